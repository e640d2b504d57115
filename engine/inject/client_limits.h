// The limits one SMTP listener puts on its clients ([inject.smtp] max_connections_per_ip,
// max_connection_rate_per_ip, max_message_rate_per_user), counted across all its shards.
#ifndef VOLLEY_ENGINE_INJECT_CLIENT_LIMITS_H_
#define VOLLEY_ENGINE_INJECT_CLIENT_LIMITS_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/config/rate.h"
#include "engine/config/values.h"
#include "engine/shaping/throttle.h"

namespace volley::inject {

// Thread-safe (one mutex; an accept or a MAIL takes it once): the shards of a listener share
// one. The memory is bounded by the clients connected now and those whose rate allowance is
// still being paid back.
class ClientLimits {
 public:
  struct Options {
    int max_connections_per_ip = 0;  // 0: no limit
    std::optional<config::Rate> connection_rate_per_ip;
    std::optional<config::Rate> message_rate_per_user;
    // Addresses the per-IP limits do not apply to (the listener's relay_networks).
    std::vector<config::Cidr> exempt;
  };
  enum class Verdict { kAdmitted, kTooManyConnections, kConnectionRate };

  explicit ClientLimits(Options options) : options_(std::move(options)) {}

  // A connection from `ip` arrives. When admitted it counts until Leave(ip); a refused one
  // does not count (and needs no Leave).
  Verdict Arrive(absl::string_view ip, absl::Time now);
  void Leave(absl::string_view ip);

  // May `user` hand over another message now? Takes one from the user's allowance when so.
  bool TakeMessage(absl::string_view user, absl::Time now);

  // Clients with state kept (for tests of the memory bound).
  size_t tracked_clients() const;

 private:
  struct Client {
    int connections = 0;
    std::optional<shaping::Throttle> rate;
  };
  bool Exempt(absl::string_view ip) const;
  // Drops clients with no connection whose allowance is whole again.
  void SweepLocked(absl::Time now);

  const Options options_;
  mutable std::mutex mutex_;
  absl::flat_hash_map<std::string, Client> clients_;           // guarded by mutex_
  absl::flat_hash_map<std::string, shaping::Throttle> users_;  // guarded by mutex_
  uint64_t events_ = 0;                                        // guarded by mutex_
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_CLIENT_LIMITS_H_
