#include "dns/mx_resolver.h"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dns/ares_channel.h"
#include "dns/dns_wire.h"
#include "dns/lookup_result.h"
#include "dns/result_queue.h"
#include "engine/base/logging.h"
#include "engine/base/status_macros.h"

namespace volley::dns {
namespace {

// A domain may list many MX hosts; resolving all of them would let one domain
// make us send hundreds of queries. Like Postfix's address limits, we keep only
// the most preferred ones.
constexpr size_t kMaxMxHosts = 16;

constexpr absl::string_view kShuttingDown = "shutting down";

bool IsCancelled(int status) { return status == ARES_ECANCELLED || status == ARES_EDESTRUCTION; }

QueryResult Classify(int status) {
  switch (status) {
    case ARES_SUCCESS:
      return QueryResult::kOk;
    case ARES_ENOTFOUND:
      return QueryResult::kNxDomain;
    case ARES_ENODATA:
      return QueryResult::kNoData;
    case ARES_ESERVFAIL:
      return QueryResult::kServFail;
    case ARES_EREFUSED:
      return QueryResult::kRefused;
    case ARES_ETIMEOUT:
      return QueryResult::kTimeout;
    default:
      return QueryResult::kError;
  }
}

int RrType(QueryType type) {
  switch (type) {
    case QueryType::kMx:
      return ns_t_mx;
    case QueryType::kA:
      return ns_t_a;
    case QueryType::kAaaa:
      return ns_t_aaaa;
  }
  return ns_t_invalid;
}

bool Queries(IpLookupStrategy strategy, int family) {
  return family == kV4 ? strategy != IpLookupStrategy::kIpv6Only
                       : strategy != IpLookupStrategy::kIpv4Only;
}

// Only the loop thread writes the counters, so a load and a store are enough
// (no locked read-modify-write on the cache-hit path); readers on other
// threads still see whole values.
void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::optional<uint32_t> MinTtl(absl::Span<const unsigned char> answer, uint16_t rr_type) {
  return MinAnswerTtl(answer.data(), answer.size(), rr_type);
}

std::optional<uint32_t> NegativeTtlOf(absl::Span<const unsigned char> answer) {
  return NegativeTtl(answer.data(), answer.size());
}

AresChannelOptions ChannelOptions(const ResolverOptions& options) {
  AresChannelOptions channel;
  channel.servers = options.servers;
  channel.timeout = options.timeout;
  channel.tries = options.tries;
  return channel;
}

DnsCacheOptions CacheOptions(const ResolverOptions& options) {
  DnsCacheOptions cache;
  cache.max_entries = options.cache_size;
  cache.min_ttl = options.min_ttl;
  cache.max_ttl = options.max_ttl;
  cache.serve_stale = options.serve_stale;
  return cache;
}

}  // namespace

// One name being resolved, for every request waiting on it. Lives in
// in_flight_ until its last query has called back, so the Lookup& a query's
// callback holds is valid whenever it runs.
struct MxResolver::Lookup {
  LookupAnswers answers;  // also the kind and name, the key in in_flight_ and the cache
  bool running = false;   // launched, rather than in waiting_
  std::vector<Callback> waiters;
  int pending = 0;  // outstanding queries, plus one while queries are being sent
};

absl::StatusOr<std::unique_ptr<MxResolver>> MxResolver::Create(uv_loop_t* loop,
                                                               const ResolverOptions& options,
                                                               Clock& clock) {
  if (loop == nullptr) return absl::InvalidArgumentError("MxResolver: no loop");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("MxResolver: timeout must be positive");
  }
  if (options.tries < 1) return absl::InvalidArgumentError("MxResolver: tries must be >= 1");
  if (options.min_ttl < absl::ZeroDuration() || options.min_ttl > options.max_ttl) {
    return absl::InvalidArgumentError("MxResolver: need 0 <= min_ttl <= max_ttl");
  }
  if (options.serve_stale < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("MxResolver: serve_stale must not be negative");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<AresChannel> channel,
                   AresChannel::Create(loop, ChannelOptions(options)));
  ASSIGN_OR_RETURN(std::unique_ptr<ResultQueue> results, ResultQueue::Create(loop));
  return std::unique_ptr<MxResolver>(
      new MxResolver(options, clock, std::move(channel), std::move(results)));
}

MxResolver::MxResolver(const ResolverOptions& options, Clock& clock,
                       std::unique_ptr<AresChannel> channel, std::unique_ptr<ResultQueue> results)
    : options_(options),
      clock_(clock),
      channel_(std::move(channel)),
      cache_(CacheOptions(options), clock),
      results_(std::move(results)) {}

MxResolver::~MxResolver() {
  // First, while every lookup is whole: the channel drops the callbacks of its
  // outstanding queries, which refer to lookups.
  channel_.reset();
}

void MxResolver::Resolve(absl::string_view domain, Callback callback) {
  if (!Normalize(domain, callback)) return;
  if (ServeFromCache(AnswerKind::kMx, domain, callback)) return;
  Start(AnswerKind::kMx, domain, std::move(callback));
}

void MxResolver::ResolveHost(absl::string_view host, Callback callback) {
  if (std::optional<std::string> ip = ParseIpLiteral(host)) {
    MxResult result = MakeMxResult(MxOutcome::kOk, "");
    result.hosts.push_back(MxHost{*ip, 0, {*ip}});
    result.site_name = *ip;
    // A literal never changes; the expiry only matters to callers that cache it
    // themselves.
    result.expires = clock_.Now() + options_.max_ttl;
    results_->Post(std::move(callback), std::make_shared<const MxResult>(std::move(result)));
    return;
  }
  if (!Normalize(host, callback)) return;
  if (ServeFromCache(AnswerKind::kHost, host, callback)) return;
  Start(AnswerKind::kHost, host, std::move(callback));
}

// Puts `name` in lookup form, in scratch_ if it needs a copy. A name that
// cannot exist is answered kNxDomain (so the mail bounces), returning false.
bool MxResolver::Normalize(absl::string_view& name, Callback& callback) {
  if (IsLookupName(name)) return true;
  if (absl::Status status = ToLookupName(name, scratch_); !status.ok()) {
    PostResult(std::move(callback), MxOutcome::kNxDomain, std::string(status.message()));
    return false;
  }
  name = scratch_;
  return true;
}

bool MxResolver::ServeFromCache(AnswerKind kind, absl::string_view name, Callback& callback) {
  if (shutting_down_) return false;  // Start answers "shutting down"
  std::shared_ptr<const MxResult> hit = cache_.Find(kind, name);
  if (hit == nullptr) return false;
  Bump(stats_.cache_hits);
  results_->Post(std::move(callback), std::move(hit));
  return true;
}

void MxResolver::Start(AnswerKind kind, absl::string_view name, Callback callback) {
  if (shutting_down_) {
    PostResult(std::move(callback), MxOutcome::kTemporaryFailure, std::string(kShuttingDown));
    return;
  }
  auto& flights = in_flight_[static_cast<size_t>(kind)];
  if (auto it = flights.find(name); it != flights.end()) {
    Bump(stats_.coalesced);
    it->second->waiters.push_back(std::move(callback));
    return;
  }
  if (name.empty()) {
    PostResult(std::move(callback), MxOutcome::kNxDomain, "empty domain name");
    return;
  }
  auto owned = std::make_unique<Lookup>();
  Lookup& lookup = *owned;
  lookup.answers.name = std::string(name);
  lookup.answers.kind = kind;
  lookup.waiters.push_back(std::move(callback));
  flights.emplace(lookup.answers.name, std::move(owned));
  if (options_.max_lookups_in_flight > 0 && running_lookups_ >= options_.max_lookups_in_flight) {
    // Requests for this name still join it while it waits.
    waiting_.push_back(&lookup);
    return;
  }
  Launch(lookup);  // may finish and free the lookup
}

void MxResolver::Launch(Lookup& lookup) {
  ++running_lookups_;
  lookup.running = true;
  // Hold the lookup open while sending: c-ares may fail a query inside Query
  // (e.g. on a bad name), and Finish must not run before every query has been
  // sent.
  ++lookup.pending;
  LookupAnswers& answers = lookup.answers;
  if (answers.kind == AnswerKind::kMx) {
    SendQuery(lookup, QueryType::kMx, 0);
  } else {
    answers.hosts.emplace_back().name = answers.name;
    answers.site_name = answers.name;
    SendAddressQueries(lookup, 0);
  }
  Release(lookup);  // may finish and free the lookup
}

void MxResolver::LaunchWaiting() {
  // Launch may finish a lookup at once (and Finish calls this again): the
  // outer call does the work, so the stack stays flat.
  if (launching_) return;
  launching_ = true;
  while (!waiting_.empty() && !shutting_down_ &&
         running_lookups_ < options_.max_lookups_in_flight) {
    Lookup* next = waiting_.front();
    waiting_.pop_front();
    Launch(*next);
  }
  launching_ = false;
}

void MxResolver::SendQuery(Lookup& lookup, QueryType type, size_t host_index) {
  // The caller holds the lookup open, so the query's callback, even one run
  // inside Query, cannot finish it.
  DCHECK(lookup.pending > 0);
  const std::string& name =
      type == QueryType::kMx ? lookup.answers.name : lookup.answers.hosts[host_index].name;
  const uint64_t sent_ns = uv_hrtime();
  ++lookup.pending;
  absl::Status sent = channel_->Query(name, RrType(type),
                                      [this, &lookup, type, host_index, sent_ns](
                                          int status, absl::Span<const unsigned char> answer) {
                                        OnAnswer(lookup, type, host_index, sent_ns, status, answer);
                                      });
  if (!sent.ok()) {
    // The channel could not be rebuilt: the lookup fails for now.
    --lookup.pending;
    if (!lookup.answers.decided) {
      lookup.answers.decided = MakeMxResult(MxOutcome::kTemporaryFailure, sent.ToString());
    }
    return;
  }
  Bump(stats_.queries_sent);
}

void MxResolver::SendAddressQueries(Lookup& lookup, size_t host_index) {
  // Mark both first: a query may call back at once, and the host must not look
  // finished before its second query is sent.
  HostAnswers& host = lookup.answers.hosts[host_index];
  host.queried[kV4] = Queries(options_.ip_lookup_strategy, kV4);
  host.queried[kV6] = Queries(options_.ip_lookup_strategy, kV6);
  const bool v4 = host.queried[kV4];
  const bool v6 = host.queried[kV6];
  if (v4) SendQuery(lookup, QueryType::kA, host_index);
  if (v6) SendQuery(lookup, QueryType::kAaaa, host_index);
}

void MxResolver::Release(Lookup& lookup) {
  DCHECK(lookup.pending > 0);
  if (--lookup.pending == 0) Finish(lookup);
}

void MxResolver::OnAnswer(Lookup& lookup, QueryType type, size_t host_index, uint64_t sent_ns,
                          int status, absl::Span<const unsigned char> answer) {
  const bool cancelled = IsCancelled(status);
  if (!cancelled) {
    stats_.lookup_seconds.Observe(static_cast<double>(uv_hrtime() - sent_ns) / 1e9);
  }
  const int effective = type == QueryType::kMx
                            ? HandleMx(lookup, status, answer)
                            : HandleAddresses(lookup.answers, type, host_index, status, answer);
  if (!cancelled) {
    Bump(stats_.lookups[static_cast<size_t>(type)][static_cast<size_t>(Classify(effective))]);
  }
  Release(lookup);  // nothing may touch `lookup` after this
}

int MxResolver::HandleMx(Lookup& lookup, int status, absl::Span<const unsigned char> answer) {
  LookupAnswers& answers = lookup.answers;
  if (shutting_down_) {
    answers.decided = MakeMxResult(MxOutcome::kTemporaryFailure, std::string(kShuttingDown));
    return status;
  }
  std::vector<MxRecord> records;
  if (status == ARES_SUCCESS) {
    status = ParseMxAnswer(answer, records);
    if (status != ARES_SUCCESS && status != ARES_ENODATA) {
      answers.decided =
          MakeMxResult(MxOutcome::kTemporaryFailure,
                       absl::StrCat("MX answer for ", answers.name, ": ", ares_strerror(status)));
      return status;
    }
  }
  switch (status) {
    case ARES_SUCCESS:
      answers.mx_ttl = MinTtl(answer, ns_t_mx);
      UseMxRecords(lookup, records);
      break;
    case ARES_ENODATA:
      // RFC 5321 section 5.1: no MX records, so the domain itself is the
      // implicit MX. "No MX" holds for the negative TTL (RFC 2308), and for
      // as long as the CNAMEs that led to it.
      answers.implicit_mx = true;
      answers.mx_ttl = MinTtl(answer, ns_t_mx);
      answers.mx_negative_ttl = NegativeTtlOf(answer);
      answers.site_name = answers.name;
      answers.hosts.emplace_back().name = answers.name;
      SendAddressQueries(lookup, 0);
      break;
    case ARES_ENOTFOUND:
      answers.mx_negative_ttl = NegativeTtlOf(answer);
      answers.decided =
          MakeMxResult(MxOutcome::kNxDomain, absl::StrCat(answers.name, ": NXDOMAIN"));
      break;
    case ARES_EBADNAME:
      // A name that cannot be put in a query cannot exist either.
      answers.decided =
          MakeMxResult(MxOutcome::kNxDomain, absl::StrCat(answers.name, ": invalid domain name"));
      break;
    default:
      answers.decided =
          MakeMxResult(MxOutcome::kTemporaryFailure,
                       absl::StrCat("MX lookup for ", answers.name, ": ", AresStatusText(status)));
      break;
  }
  return status;
}

void MxResolver::UseMxRecords(Lookup& lookup, const std::vector<MxRecord>& records) {
  LookupAnswers& answers = lookup.answers;
  std::vector<HostAnswers> hosts;
  std::vector<std::string> site;
  bool has_root = false;
  for (const MxRecord& record : records) {
    std::string host = NormalizeName(record.host);
    if (host.empty()) {
      // "MX 0 .": null MX, not a host.
      has_root |= record.preference == 0;
      continue;
    }
    auto same = std::find_if(hosts.begin(), hosts.end(),
                             [&](const HostAnswers& h) { return h.name == host; });
    if (same != hosts.end()) {
      same->preference = std::min(same->preference, record.preference);
      continue;
    }
    site.push_back(host);
    HostAnswers& added = hosts.emplace_back();
    added.name = std::move(host);
    added.preference = record.preference;
  }
  if (hosts.empty()) {
    answers.decided =
        has_root
            ? MakeMxResult(MxOutcome::kNullMx, absl::StrCat(answers.name, ": null MX (RFC 7505)"))
            : MakeMxResult(MxOutcome::kTemporaryFailure,
                           absl::StrCat("MX answer for ", answers.name, " lists no usable host"));
    return;
  }
  // A null MX next to real hosts is a misconfiguration (RFC 7505 section 3);
  // the real hosts are used.

  // The site is the whole MX set, so that a host without addresses for a
  // while, or the cut to kMaxMxHosts, does not move the domain to another
  // site.
  std::sort(site.begin(), site.end());
  answers.site_name = absl::StrJoin(site, ",");

  // Equal preferences are tried in random order (RFC 5321 section 5.1):
  // shuffle, then sort stably.
  std::shuffle(hosts.begin(), hosts.end(), bitgen_);
  std::stable_sort(hosts.begin(), hosts.end(), [](const HostAnswers& a, const HostAnswers& b) {
    return a.preference < b.preference;
  });
  if (hosts.size() > kMaxMxHosts) hosts.resize(kMaxMxHosts);
  answers.hosts = std::move(hosts);
  for (size_t i = 0; i < answers.hosts.size(); ++i) {
    HostAnswers& host = answers.hosts[i];
    if (std::optional<std::string> ip = ParseIpLiteral(host.name)) {
      // Not allowed by RFC 5321, but seen in the wild: use the address as
      // given, if the strategy allows its family.
      const int family = ip->find(':') == std::string::npos ? kV4 : kV6;
      if (Queries(options_.ip_lookup_strategy, family)) host.addresses[family].push_back(*ip);
      continue;
    }
    SendAddressQueries(lookup, i);
  }
}

int MxResolver::HandleAddresses(LookupAnswers& answers, QueryType type, size_t host_index,
                                int status, absl::Span<const unsigned char> answer) {
  HostAnswers& host = answers.hosts[host_index];
  const int family = type == QueryType::kA ? kV4 : kV6;
  if (status == ARES_SUCCESS) {
    status = ParseAddressAnswer(RrType(type), answer, host.addresses[family]);
    // The smallest TTL along the chain: every CNAME and address record.
    if (status == ARES_SUCCESS) LowerTtl(host.ttl, MinTtl(answer, RrType(type)));
  }
  if (status == ARES_ENODATA || status == ARES_ENOTFOUND) {
    // Without a SOA, RFC 2308 allows no negative caching: 0, which the clamp
    // raises to min_ttl.
    LowerTtl(host.negative_ttl, NegativeTtlOf(answer).value_or(0));
  }
  host.status[family] = status;
  return status;
}

void MxResolver::Finish(Lookup& lookup) {
  LookupAnswers& answers = lookup.answers;
  std::shared_ptr<const MxResult> shared;
  if (shutting_down_) {
    MxResult result = MakeMxResult(MxOutcome::kTemporaryFailure, std::string(kShuttingDown));
    result.expires = clock_.Now();
    shared = std::make_shared<const MxResult>(std::move(result));
  } else {
    const bool ipv6_first = options_.ip_lookup_strategy == IpLookupStrategy::kIpv6ThenIpv4;
    MxResult result = BuildLookupResult(answers, ipv6_first, cache_, clock_.Now());
    if (result.outcome == MxOutcome::kTemporaryFailure) {
      shared = cache_.FindStale(answers.kind, answers.name);
      if (shared != nullptr) Bump(stats_.stale_served, lookup.waiters.size());
    }
    if (shared == nullptr) {
      const bool cacheable = result.outcome != MxOutcome::kTemporaryFailure;
      shared = std::make_shared<const MxResult>(std::move(result));
      if (cacheable) cache_.Insert(answers.kind, answers.name, shared);
    }
  }
  for (Callback& waiter : lookup.waiters) results_->Post(std::move(waiter), shared);
  if (lookup.running) --running_lookups_;
  auto& flights = in_flight_[static_cast<size_t>(answers.kind)];
  flights.erase(flights.find(answers.name));  // frees `lookup`
  LaunchWaiting();
}

void MxResolver::PostResult(Callback&& callback, MxOutcome outcome, std::string error) {
  MxResult result = MakeMxResult(outcome, std::move(error));
  result.expires = clock_.Now();
  results_->Post(std::move(callback), std::make_shared<const MxResult>(std::move(result)));
}

void MxResolver::Shutdown(absl::AnyInvocable<void()> done) {
  if (shutting_down_) {
    LOG(ERROR) << "MxResolver::Shutdown called twice";
    return;
  }
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  // The channel cancels the queries in flight: their callbacks end every
  // running lookup with "shutting down" before this returns, and send nothing
  // new.
  channel_->Shutdown([this] {
    channel_closed_ = true;
    OnPartClosed();
  });
  // Lookups that never started end the same way.
  while (!waiting_.empty()) {
    Lookup* waiting = waiting_.front();
    waiting_.pop_front();
    Finish(*waiting);
  }
  DCHECK(in_flight_[0].empty() && in_flight_[1].empty());
  // After the "shutting down" callbacks, and what they post in turn.
  results_->Close([this] {
    results_closed_ = true;
    OnPartClosed();
  });
}

void MxResolver::OnPartClosed() {
  if (!channel_closed_ || !results_closed_ || !shutdown_done_) return;
  // The caller may destroy the resolver inside `done`: nothing may touch `this`
  // afterwards.
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

}  // namespace volley::dns
