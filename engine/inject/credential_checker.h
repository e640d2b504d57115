// AUTH verification for a listener: the crypt(3) check on a WorkerPool, so that hashing (slow
// by design: yescrypt takes tens of milliseconds) never blocks an event loop, and a brake on
// guessing: every failure from one client address makes that address's next refusal wait
// longer. Credentials that passed are remembered for a while (as Dovecot's auth cache does):
// a platform that opens a connection per batch pays the hash once an hour, not per connection.
#ifndef VOLLEY_ENGINE_INJECT_CREDENTIAL_CHECKER_H_
#define VOLLEY_ENGINE_INJECT_CREDENTIAL_CHECKER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "engine/inject/auth_file.h"
#include "engine/runtime/worker_pool.h"

namespace volley::inject {

// Thread-safe: the shards of a listener share one. `done` runs on a pool thread.
class CredentialChecker {
 public:
  struct Verdict {
    bool ok = false;
    // How long to hold the answer back: zero on success; after the n-th failure in a row from
    // the address, FailureDelay(n).
    absl::Duration delay;
  };

  // `pool` must outlive the checker. `now` is the clock of the failure memory (tests pass their
  // own).
  CredentialChecker(WorkerPool* pool, std::shared_ptr<const UserTable> users,
                    std::function<absl::Time()> now = absl::Now);

  // A reloaded users file: checks that start from now on use it, and the remembered
  // credentials are forgotten (a password may have changed).
  void Replace(std::shared_ptr<const UserTable> users);

  void Check(std::string peer_address, std::string user, std::string password,
             absl::AnyInvocable<void(Verdict) &&> done);

  // 250 ms after the first failure, doubling with each further one, at most 16 s.
  static absl::Duration FailureDelay(int failures);
  // An address's failures are forgotten this long after its last one, or at a success.
  static constexpr absl::Duration kForgetAfter = absl::Minutes(15);
  // Good credentials are remembered this long, for at most kRememberedUsers users, as a keyed
  // hash (HMAC-SHA-256 under a key made at start), never the password itself.
  static constexpr absl::Duration kRememberFor = absl::Hours(1);
  static constexpr size_t kRememberedUsers = 10000;

 private:
  struct Failures {
    int count = 0;
    absl::Time last;
  };
  struct Remembered {
    std::string digest;
    absl::Time until;
  };
  // Counts the outcome for `peer` and says how long to hold its answer.
  absl::Duration Record(const std::string& peer, bool ok);
  std::string Digest(absl::string_view user, absl::string_view password) const;
  // Whether these credentials passed within kRememberFor (and the table is the same).
  bool RememberedLocked(const std::string& user, const std::string& digest, absl::Time now);

  WorkerPool* const pool_;
  const std::function<absl::Time()> now_;
  std::mutex mutex_;
  std::shared_ptr<const UserTable> users_;                   // guarded by mutex_
  absl::flat_hash_map<std::string, Failures> failures_;      // guarded by mutex_
  uint64_t checks_ = 0;                                      // guarded by mutex_
  absl::flat_hash_map<std::string, Remembered> remembered_;  // guarded by mutex_
  std::string key_;  // the HMAC key of the remembered digests
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_CREDENTIAL_CHECKER_H_
