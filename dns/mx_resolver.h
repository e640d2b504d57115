// MX resolution (RFC 5321 section 5, RFC 7505 null MX) with c-ares on a shard's
// libuv loop. See dns/README.md.
#ifndef VOLLEY_DNS_MX_RESOLVER_H_
#define VOLLEY_DNS_MX_RESOLVER_H_

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dns/resolver.h"
#include "engine/base/clock.h"

namespace volley::dns {

// Which address records are looked up for each host, and their order in
// MxHost::addresses. Same values as [dns] ip_lookup_strategy.
enum class IpLookupStrategy { kIpv4ThenIpv6, kIpv6ThenIpv4, kIpv4Only, kIpv6Only };

struct ResolverOptions {
  std::vector<std::string> servers;  // "ip:port" ("[v6]:port"); empty: /etc/resolv.conf
  absl::Duration timeout = absl::Seconds(5);
  int tries = 2;
  IpLookupStrategy ip_lookup_strategy = IpLookupStrategy::kIpv4ThenIpv6;
  // Cache lifetime bounds for positive and negative answers.
  absl::Duration min_ttl = absl::Seconds(30);
  absl::Duration max_ttl = absl::Hours(24);
  // When a lookup fails temporarily, a kOk answer that expired less than this
  // long ago is served instead (as unbound's serve-expired does). Zero turns
  // it off.
  absl::Duration serve_stale = absl::Hours(1);
  size_t cache_size = 100000;  // entries (MX and host answers together)
  // Lookups (names being resolved, each a few queries) sent at once; further
  // ones wait, in arrival order, and requests for their names still join
  // them. A shard starting with thousands of domains would otherwise burst
  // thousands of queries, overflowing the DNS server's receive buffer, and
  // every lost query costs a timeout. Zero: no limit.
  size_t max_lookups_in_flight = 100;
};

// The real Resolver: one per shard, owning one c-ares channel and one cache.
// Not thread-safe: every call and callback happens on the loop's thread,
// except stats(), whose counters may be read from any thread.
class MxResolver : public Resolver {
 public:
  static absl::StatusOr<std::unique_ptr<MxResolver>> Create(uv_loop_t* loop,
                                                            const ResolverOptions& options,
                                                            Clock& clock = Clock::Real());
  ~MxResolver() override;

  // Resolver. Answers are served from the cache when fresh, and concurrent
  // requests for one name share one lookup. Shutdown cancels the lookups in
  // flight and ends those waiting their turn.
  void Resolve(absl::string_view domain, Callback callback) override;
  void ResolveHost(absl::string_view host, Callback callback) override;
  void Shutdown(absl::AnyInvocable<void()> done) override;
  const ResolverStats& stats() const override;

  // Shorthands for stats().queries_sent and stats().cache_hits.
  uint64_t queries_sent() const;
  uint64_t cache_hits() const;

 private:
  class Impl;
  explicit MxResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_MX_RESOLVER_H_
