// MX resolution (RFC 5321 section 5, RFC 7505 null MX) with c-ares on a shard's
// libuv loop.
#ifndef VOLLEY_DNS_MX_RESOLVER_H_
#define VOLLEY_DNS_MX_RESOLVER_H_

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"

namespace volley::dns {

struct MxHost {
  std::string name;  // lower-case, no trailing dot; the domain itself for implicit MX
  int preference = 0;
  std::vector<std::string> addresses;  // numeric IPv4/IPv6, A before AAAA
};

enum class MxOutcome {
  kOk,                // hosts: in preference order, each with at least one address
  kNxDomain,          // the domain does not exist: bounce (5.1.2)
  kNullMx,            // "MX 0 ." (RFC 7505): bounce (556 5.1.10)
  kNoAddresses,       // the domain exists but has neither MX nor A/AAAA: bounce
                      // (5.1.2)
  kTemporaryFailure,  // SERVFAIL, timeout, refused, or every MX host without an
                      // address: retry
};

struct MxResult {
  MxOutcome outcome = MxOutcome::kTemporaryFailure;
  std::vector<MxHost> hosts;
  std::string error;   // human-readable detail for logs when outcome != kOk
  absl::Time expires;  // when a cached copy of this answer goes stale
};

struct ResolverOptions {
  std::vector<std::string> servers;  // "ip:port" ("[v6]:port"); empty: /etc/resolv.conf
  absl::Duration timeout = absl::Seconds(5);
  int tries = 2;
  // Cache lifetime bounds for positive and negative answers.
  absl::Duration min_ttl = absl::Seconds(30);
  absl::Duration max_ttl = absl::Hours(1);
  size_t cache_size = 100000;
};

// One resolver per shard, owning one c-ares channel and one cache. Not
// thread-safe: every call and callback happens on the loop's thread.
class MxResolver {
 public:
  static absl::StatusOr<std::unique_ptr<MxResolver>> Create(uv_loop_t* loop,
                                                            const ResolverOptions& options,
                                                            Clock& clock = Clock::Real());
  ~MxResolver();

  using Callback = absl::AnyInvocable<void(const MxResult& result)>;

  // Resolves `domain` (ASCII, any case) to its mail exchangers with their
  // addresses. Served from the cache when fresh; concurrent requests for one
  // domain share one lookup. The callback never runs inside Resolve (it is
  // posted to the loop when the answer is cached).
  void Resolve(absl::string_view domain, Callback callback);

  // Resolves a host name (or passes an IP literal through) to its addresses, as
  // one MxHost with preference 0. Used for [routes] smarthosts given by name.
  void ResolveHost(absl::string_view host, Callback callback);

  // Cancels outstanding lookups (their callbacks run with kTemporaryFailure,
  // "shutting down") and closes every libuv handle. `done` runs when all
  // handles are closed; destroy the resolver after that.
  void Shutdown(absl::AnyInvocable<void()> done);

  // Lookups sent to the DNS server (not cache hits), for tests and metrics.
  uint64_t queries_sent() const;
  uint64_t cache_hits() const;

 private:
  class Impl;
  explicit MxResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_MX_RESOLVER_H_
