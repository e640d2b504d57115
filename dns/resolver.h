// What callers of the DNS layer see: the answer types and the Resolver interface. The engine
// codes against Resolver; MxResolver (mx_resolver.h) is the real one, FakeResolver
// (fake_resolver.h) the one for unit tests. See dns/README.md.
#ifndef VOLLEY_DNS_RESOLVER_H_
#define VOLLEY_DNS_RESOLVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
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

// Turns recipient domains and smarthost names into the hosts to connect to. The seam
// between delivery and DNS: the engine holds a Resolver, tests give it a FakeResolver.
//
// Not thread-safe: every call and every callback happens on the thread of the loop the
// resolver was made for (one per shard), except stats(), whose counters any thread may read.
class Resolver {
 public:
  // The result may be shared by every request answered with it (and by a
  // cache): copy what must outlive the callback.
  using Callback = absl::AnyInvocable<void(const MxResult& result)>;

  virtual ~Resolver() = default;

  // Resolves `domain` (ASCII in any case, or UTF-8, which is converted to
  // A-labels) to its mail exchangers with their addresses. The callback never
  // runs inside Resolve: every answer, even a cached one, is posted to the loop.
  virtual void Resolve(absl::string_view domain, Callback callback) = 0;

  // Resolves a host name (or passes an IP literal through) to its addresses, as
  // one MxHost with preference 0. Used for [routes] smarthosts given by name.
  // The callback never runs inside ResolveHost.
  virtual void ResolveHost(absl::string_view host, Callback callback) = 0;

  // Ends outstanding requests (their callbacks run, after Shutdown returns, with
  // kTemporaryFailure "shutting down") and closes every libuv handle. `done`
  // runs when all handles are closed, after those callbacks; destroy the
  // resolver after that. A request made after Shutdown from inside one of
  // those callbacks is answered "shutting down" too; make no other requests.
  virtual void Shutdown(absl::AnyInvocable<void()> done) = 0;

  // Readable from any thread for as long as the resolver exists.
  virtual const ResolverStats& stats() const = 0;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_RESOLVER_H_
