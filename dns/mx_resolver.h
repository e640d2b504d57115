// MX resolution (RFC 5321 section 5, RFC 7505 null MX) with c-ares on a shard's
// libuv loop: the lookup logic, on top of AresChannel (the wire) and DnsCache
// (the answers kept). See dns/README.md.
#ifndef VOLLEY_DNS_MX_RESOLVER_H_
#define VOLLEY_DNS_MX_RESOLVER_H_

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dns/dns_cache.h"
#include "dns/resolver.h"
#include "engine/base/clock.h"

namespace volley::dns {

class AresChannel;
class ResultQueue;
struct LookupAnswers;
struct MxRecord;

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

// The real Resolver: MX lookups (RFC 5321 section 5) on one AresChannel, with
// answers kept in one DnsCache. One per shard. Not thread-safe: every call and
// callback happens on the loop's thread, except stats(), whose counters may be
// read from any thread.
class MxResolver : public Resolver {
 public:
  static absl::StatusOr<std::unique_ptr<MxResolver>> Create(uv_loop_t* loop,
                                                            const ResolverOptions& options,
                                                            Clock& clock = Clock::Real());
  MxResolver(const MxResolver&) = delete;
  MxResolver& operator=(const MxResolver&) = delete;
  ~MxResolver() override;

  // Resolver. Answers are served from the cache when fresh, and concurrent
  // requests for one name share one lookup. Shutdown cancels the lookups in
  // flight and ends those waiting their turn.
  void Resolve(absl::string_view domain, Callback callback) override;
  void ResolveHost(absl::string_view host, Callback callback) override;
  void Shutdown(absl::AnyInvocable<void()> done) override;
  const ResolverStats& stats() const override { return stats_; }

  // Shorthands for stats().queries_sent and stats().cache_hits.
  uint64_t queries_sent() const { return stats_.queries_sent.load(std::memory_order_relaxed); }
  uint64_t cache_hits() const { return stats_.cache_hits.load(std::memory_order_relaxed); }

 private:
  struct Lookup;  // one name being resolved, for every request waiting on it

  MxResolver(const ResolverOptions& options, Clock& clock, std::unique_ptr<AresChannel> channel,
             std::unique_ptr<ResultQueue> results);

  // Requests and lookups.
  bool Normalize(absl::string_view& name, Callback& callback);
  bool ServeFromCache(AnswerKind kind, absl::string_view name, Callback& callback);
  void Start(AnswerKind kind, absl::string_view name, Callback callback);
  void Launch(Lookup& lookup);
  void LaunchWaiting();
  void SendQuery(Lookup& lookup, QueryType type, size_t host_index);
  void SendAddressQueries(Lookup& lookup, size_t host_index);
  void Release(Lookup& lookup);
  void Finish(Lookup& lookup);

  // Answers.
  void OnAnswer(Lookup& lookup, QueryType type, size_t host_index, uint64_t sent_ns, int status,
                absl::Span<const unsigned char> answer);
  int HandleMx(Lookup& lookup, int status, absl::Span<const unsigned char> answer);
  void UseMxRecords(Lookup& lookup, const std::vector<MxRecord>& records);
  static int HandleAddresses(LookupAnswers& answers, QueryType type, size_t host_index, int status,
                             absl::Span<const unsigned char> answer);

  void PostResult(Callback&& callback, MxOutcome outcome, std::string error);
  void OnPartClosed();

  const ResolverOptions options_;
  Clock& clock_;
  absl::BitGen bitgen_;
  ResolverStats stats_;
  std::unique_ptr<AresChannel> channel_;
  DnsCache cache_;
  // Every answer goes through here, so that no callback runs inside a call.
  std::unique_ptr<ResultQueue> results_;

  // Every lookup not finished yet, running or waiting, by kind and name.
  absl::flat_hash_map<std::string, std::unique_ptr<Lookup>> in_flight_[2];
  // Lookups beyond max_lookups_in_flight, in arrival order (owned by
  // in_flight_).
  std::deque<Lookup*> waiting_;
  size_t running_lookups_ = 0;
  bool launching_ = false;
  std::string scratch_;  // Resolve's normalisation buffer, reused

  bool shutting_down_ = false;
  bool channel_closed_ = false;
  bool results_closed_ = false;
  absl::AnyInvocable<void()> shutdown_done_;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_MX_RESOLVER_H_
