// MX resolution (RFC 5321 section 5, RFC 7505 null MX) with c-ares on a shard's
// libuv loop. See dns/README.md.
#ifndef VOLLEY_DNS_MX_RESOLVER_H_
#define VOLLEY_DNS_MX_RESOLVER_H_

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "engine/base/histogram.h"

namespace volley::dns {

struct MxHost {
  // Lower-case A-label form, no trailing dot; the domain itself for implicit
  // MX. For a host that is a CNAME, still the name the MX record gives.
  std::string name;
  int preference = 0;
  // Numeric IPv4/IPv6, in the order ip_lookup_strategy asks for (A before
  // AAAA by default). For a CNAME, the addresses at the end of the chain.
  std::vector<std::string> addresses;
};

enum class MxOutcome {
  kOk,                // hosts: in preference order, each with at least one address
  kNxDomain,          // the domain does not exist, or cannot (invalid name or IDN): bounce (5.1.2)
  kNullMx,            // "MX 0 ." (RFC 7505): bounce (556 5.1.10)
  kNoAddresses,       // the domain exists but has neither MX nor A/AAAA: bounce (5.1.2)
  kTemporaryFailure,  // SERVFAIL, timeout, refused, or every MX host without an address: retry
};

struct MxResult {
  MxOutcome outcome = MxOutcome::kTemporaryFailure;
  std::vector<MxHost> hosts;
  // kOk only: the domain's site, i.e. its MX host set: every MX host name of
  // the answer (also those dropped for lack of addresses or beyond the 16 kept),
  // sorted, de-duplicated and joined with ','. Implicit MX: the domain itself;
  // ResolveHost: the host. Domains with equal site names share a site. Empty
  // for every other outcome.
  std::string site_name;
  std::string error;   // human-readable detail for logs when outcome != kOk
  absl::Time expires;  // when a cached copy of this answer goes stale
  // True when this is an expired answer served because its refresh failed
  // temporarily (ResolverOptions::serve_stale); `expires` is then a short
  // time ahead (min_ttl), so that the caller asks again soon.
  bool stale = false;
};

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

// Wire query types and results, the labels of volley_dns_lookups_total.
enum class QueryType { kMx, kA, kAaaa };
enum class QueryResult { kOk, kNxDomain, kNoData, kServFail, kRefused, kTimeout, kError };
inline constexpr size_t kQueryTypeCount = 3;
inline constexpr size_t kQueryResultCount = 7;
// "mx", "a", "aaaa".
absl::string_view QueryTypeLabel(QueryType type);
// "ok", "nxdomain", "nodata", "servfail", "refused", "timeout", "error".
absl::string_view QueryResultLabel(QueryResult result);

// Counters of one resolver. Written only by the resolver's loop thread, and
// readable from any thread while it runs (relaxed atomics: each value is
// exact, but values read together are not a consistent snapshot). Valid for
// as long as the resolver exists.
struct ResolverStats {
  ResolverStats();
  ResolverStats(const ResolverStats&) = delete;
  ResolverStats& operator=(const ResolverStats&) = delete;

  uint64_t Lookups(QueryType type, QueryResult result) const {
    return lookups[static_cast<size_t>(type)][static_cast<size_t>(result)].load(
        std::memory_order_relaxed);
  }

  // Completed wire queries by type and result (queries cancelled by Shutdown
  // are not counted).
  std::atomic<uint64_t> lookups[kQueryTypeCount][kQueryResultCount];
  std::atomic<uint64_t> queries_sent{0};  // wire queries started
  std::atomic<uint64_t> cache_hits{0};    // requests answered from a fresh cache entry
  std::atomic<uint64_t> stale_served{0};  // requests answered with a stale entry (serve_stale)
  std::atomic<uint64_t> coalesced{0};     // requests that joined a lookup in flight
  // Seconds from sending each wire query to its answer (or timeout), 1 ms to 10 s.
  Histogram lookup_seconds;
};

// One resolver per shard, owning one c-ares channel and one cache. Not
// thread-safe: every call and callback happens on the loop's thread, except
// stats(), whose counters may be read from any thread.
class MxResolver {
 public:
  static absl::StatusOr<std::unique_ptr<MxResolver>> Create(uv_loop_t* loop,
                                                            const ResolverOptions& options,
                                                            Clock& clock = Clock::Real());
  ~MxResolver();

  // The result is shared by every request answered with it (and by the cache):
  // copy what must outlive the callback.
  using Callback = absl::AnyInvocable<void(const MxResult& result)>;

  // Resolves `domain` (ASCII in any case, or UTF-8, which is converted to
  // A-labels) to its mail exchangers with their addresses. Served from the
  // cache when fresh; concurrent requests for one domain share one lookup.
  // The callback never runs inside Resolve: every answer, even a cached one,
  // is posted to the loop.
  void Resolve(absl::string_view domain, Callback callback);

  // Resolves a host name (or passes an IP literal through) to its addresses, as
  // one MxHost with preference 0. Used for [routes] smarthosts given by name.
  void ResolveHost(absl::string_view host, Callback callback);

  // Cancels outstanding lookups (their callbacks run with kTemporaryFailure,
  // "shutting down") and closes every libuv handle. `done` runs when all
  // handles are closed; destroy the resolver after that.
  void Shutdown(absl::AnyInvocable<void()> done);

  const ResolverStats& stats() const;
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
