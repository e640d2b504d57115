#include "dns/mx_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <iterator>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dns/dns_cache.h"
#include "dns/dns_wire.h"
#include "engine/base/logging.h"

namespace volley::dns {
namespace {

// A domain may list many MX hosts; resolving all of them would let one domain
// make us send hundreds of queries. Like Postfix's address limits, we keep only
// the most preferred ones.
constexpr size_t kMaxMxHosts = 16;

// Addresses read per A or AAAA answer; more are ignored.
constexpr int kMaxAddresses = 32;

constexpr absl::string_view kShuttingDown = "shutting down";

// c-ares must be initialised once per process before the first channel.
int AresLibraryInit() {
  static std::once_flag once;
  static int status = ARES_SUCCESS;
  std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
  return status;
}

bool IsTemporary(int status) {
  return status != ARES_SUCCESS && status != ARES_ENODATA && status != ARES_ENOTFOUND;
}

bool IsCancelled(int status) { return status == ARES_ECANCELLED || status == ARES_EDESTRUCTION; }

std::string AresStatusText(int status) {
  switch (status) {
    case ARES_ENODATA:
      return "no records";
    case ARES_ENOTFOUND:
      return "NXDOMAIN";
    case ARES_ESERVFAIL:
      return "SERVFAIL";
    case ARES_EREFUSED:
      return "REFUSED";
    case ARES_ETIMEOUT:
      return "timeout";
    case ARES_ECONNREFUSED:
      return "connection refused";
    default:
      return ares_strerror(status);
  }
}

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

// Only the loop thread writes the counters, so a load and a store are enough
// (no locked read-modify-write on the cache-hit path); readers on other
// threads still see whole values.
void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Lowers `into` to `ttl` (an absent `into` takes `ttl`).
void LowerTtl(std::optional<uint32_t>& into, std::optional<uint32_t> ttl) {
  if (ttl) into = into ? std::min(*into, *ttl) : *ttl;
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

// All calls and callbacks happen on the loop's thread.
//
// Lifetimes: every libuv handle lives in a heap HandleBox that is freed in its
// close callback, never by ~Impl, so that the resolver can be destroyed while
// closes are still pending. A Lookup lives in in_flight_ until its last c-ares
// query has called back, so the Lookup* a query carries is valid whenever
// c-ares calls us.
//
// The cache-hit path (Resolve of a fresh cached name) allocates nothing: a
// name already in lookup form is used as it is (others are normalised into a
// reused buffer), DnsCache::Find allocates nothing, and the callback gets the
// cached result through a shared_ptr, without a copy.
class MxResolver::Impl {
 public:
  Impl(uv_loop_t* loop, const ResolverOptions& options, Clock& clock)
      : loop_(loop), options_(options), clock_(clock), cache_(CacheOptions(options), clock) {}
  ~Impl();

  absl::Status Init();
  void Resolve(absl::string_view domain, Callback callback);
  void ResolveHost(absl::string_view host, Callback callback);
  void Shutdown(absl::AnyInvocable<void()> done);

  const ResolverStats& stats() const { return stats_; }

 private:
  static constexpr size_t kKinds = 2;
  static constexpr int kV4 = 0;
  static constexpr int kV6 = 1;

  struct HandleBox {
    union {
      uv_handle_t handle;
      uv_poll_t poll;
      uv_timer_t timer;
      uv_idle_t idle;
    };
    Impl* owner = nullptr;  // null once the Impl is gone
    ares_socket_t fd = ARES_SOCKET_BAD;
  };

  struct HostState {
    std::string name;
    int preference = 0;
    std::vector<std::string> addresses[2];  // by family: kV4, kV6
    bool queried[2] = {false, false};
    int status[2] = {ARES_SUCCESS, ARES_SUCCESS};
    std::optional<uint32_t> ttl;  // smallest TTL of the address records and CNAMEs used
    // Smallest negative TTL of NODATA/NXDOMAIN address answers; 0 for such an
    // answer without a SOA.
    std::optional<uint32_t> negative_ttl;
  };

  struct Lookup {
    AnswerKind kind = AnswerKind::kMx;
    std::string name;      // lookup form; also the key in in_flight_ and the cache
    bool running = false;  // launched, rather than in waiting_
    bool implicit_mx = false;
    std::vector<Callback> waiters;
    int pending = 0;                 // outstanding queries, plus one while queries are being sent
    std::optional<uint32_t> mx_ttl;  // MX records and CNAMEs of the MX answer
    // From the SOA of a negative MX answer (NXDOMAIN, or NODATA for implicit
    // MX); absent without a SOA.
    std::optional<uint32_t> mx_negative_ttl;
    std::vector<HostState> hosts;
    std::string site_name;
    std::optional<MxResult> result;  // set when the outcome is known without addresses
  };

  struct QueryContext {
    Impl* impl;
    Lookup* lookup;
    QueryType type;
    size_t host_index;
    uint64_t start_ns;  // uv_hrtime() when sent
  };

  struct Delivery {
    Callback callback;
    std::shared_ptr<const MxResult> result;
  };

  absl::Status InitChannel();
  void Start(AnswerKind kind, absl::string_view name, Callback callback);
  void Launch(Lookup& lookup);
  void LaunchWaiting();
  bool ServeFromCache(AnswerKind kind, absl::string_view key, Callback& callback);
  void SendQuery(Lookup& lookup, QueryType type, size_t host_index);
  void SendAddressQueries(Lookup& lookup, size_t host_index);
  void Release(Lookup& lookup);
  void OnAnswer(const QueryContext& ctx, int status, unsigned char* abuf, int alen);
  int HandleMx(Lookup& lookup, int status, unsigned char* abuf, int alen);
  int HandleAddresses(Lookup& lookup, QueryType type, size_t host_index, int status,
                      unsigned char* abuf, int alen);
  void Finish(Lookup& lookup);
  MxResult BuildResult(Lookup& lookup);
  absl::string_view FamiliesText() const;
  void Post(Callback&& callback, const std::shared_ptr<const MxResult>& result);
  void PostResult(Callback&& callback, MxOutcome outcome, std::string error);
  void Drain();

  void OnSockState(ares_socket_t fd, int readable, int writable);
  void UpdateTimer();
  HandleBox* NewHandle();
  void CloseHandle(HandleBox* box);
  void OnHandleClosed(HandleBox* box);

  static void AresCallback(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void SockStateThunk(void* data, ares_socket_t fd, int readable, int writable);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnIdle(uv_idle_t* handle);

  uv_loop_t* const loop_;
  const ResolverOptions options_;
  Clock& clock_;
  absl::BitGen bitgen_;
  ResolverStats stats_;

  ares_channel channel_ = nullptr;
  // Set on ARES_ECONNREFUSED: the next lookup that finds the channel idle
  // rebuilds it, which re-reads /etc/resolv.conf (as Envoy does after network
  // changes).
  bool channel_dirty_ = false;
  int active_queries_ = 0;

  absl::flat_hash_set<HandleBox*> handles_;  // every handle whose close callback has not run
  absl::flat_hash_map<ares_socket_t, HandleBox*> polls_;
  HandleBox* timer_ = nullptr;
  HandleBox* idle_ = nullptr;

  // Every lookup not finished yet, running or waiting, by kind and name.
  absl::flat_hash_map<std::string, std::unique_ptr<Lookup>> in_flight_[kKinds];
  // Lookups beyond max_lookups_in_flight, in arrival order (owned by
  // in_flight_).
  std::deque<Lookup*> waiting_;
  size_t running_lookups_ = 0;
  bool launching_ = false;
  DnsCache cache_;
  std::string scratch_;  // Resolve's normalisation buffer, reused
  std::vector<Delivery> deliveries_;
  std::vector<Delivery> batch_;  // the deliveries being run; kept for its capacity

  bool shutting_down_ = false;
  bool destroying_ = false;
  bool draining_ = false;
  absl::AnyInvocable<void()> shutdown_done_;
};

MxResolver::Impl::~Impl() {
  destroying_ = true;
  if (channel_ != nullptr) {
    // Callbacks run with ARES_EDESTRUCTION and are ignored; sockets are closed
    // through OnSockState while this object is still whole.
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  for (HandleBox* box : handles_) {
    box->owner = nullptr;
    if (!uv_is_closing(&box->handle)) {
      uv_close(&box->handle, [](uv_handle_t* h) { delete static_cast<HandleBox*>(h->data); });
    }
  }
}

absl::Status MxResolver::Impl::Init() {
  const int rc = AresLibraryInit();
  if (rc != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("ares_library_init: ", ares_strerror(rc)));
  }
  timer_ = NewHandle();
  CHECK(uv_timer_init(loop_, &timer_->timer) == 0);
  handles_.insert(timer_);
  idle_ = NewHandle();
  CHECK(uv_idle_init(loop_, &idle_->idle) == 0);
  handles_.insert(idle_);
  return InitChannel();
}

absl::Status MxResolver::Impl::InitChannel() {
  ares_options opts{};
  opts.sock_state_cb = &SockStateThunk;
  opts.sock_state_cb_data = this;
  opts.timeout = static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options_.timeout), 1, 3600 * 1000));
  opts.tries = std::max(1, options_.tries);
  // Names are absolute: never append the host's search domains. EDNS lets large
  // MX sets come back over UDP instead of falling back to TCP; an answer too
  // big even for EDNS comes back truncated (TC), and c-ares repeats the query
  // over TCP (we do not set ARES_FLAG_IGNTC; mx_resolver_test checks it).
  //
  // NOCHECKRESP: c-ares 1.18.1 answers a SERVFAIL or REFUSED from the last
  // server with ARES_ECONNREFUSED, losing the rcode our errors report. With the
  // flag, ares_query maps the rcode to ARES_ESERVFAIL/ARES_EREFUSED; the price
  // is no failover to the next server on those rcodes (timeouts still fail
  // over).
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
  // DNS only, never /etc/hosts ("b" = bind).
  char lookups[] = "b";
  opts.lookups = lookups;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
                   ARES_OPT_LOOKUPS;
  int rc = ares_init_options(&channel_, &opts, mask);
  if (rc != ARES_SUCCESS) {
    channel_ = nullptr;
    return absl::UnavailableError(absl::StrCat("ares_init_options: ", ares_strerror(rc)));
  }
  if (!options_.servers.empty()) {
    const std::string csv = absl::StrJoin(options_.servers, ",");
    rc = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      channel_ = nullptr;
      return absl::InvalidArgumentError(
          absl::StrCat("ares_set_servers_ports_csv(\"", csv, "\"): ", ares_strerror(rc)));
    }
  }
  channel_dirty_ = false;
  return absl::OkStatus();
}

void MxResolver::Impl::Resolve(absl::string_view domain, Callback callback) {
  if (!IsLookupName(domain)) {
    if (absl::Status status = ToLookupName(domain, scratch_); !status.ok()) {
      // No such name can exist: bounce, as for NXDOMAIN.
      PostResult(std::move(callback), MxOutcome::kNxDomain, std::string(status.message()));
      return;
    }
    domain = scratch_;
  }
  if (ServeFromCache(AnswerKind::kMx, domain, callback)) return;
  Start(AnswerKind::kMx, domain, std::move(callback));
}

void MxResolver::Impl::ResolveHost(absl::string_view host, Callback callback) {
  if (std::optional<std::string> ip = ParseIpLiteral(host)) {
    MxResult result;
    result.outcome = MxOutcome::kOk;
    MxHost& h = result.hosts.emplace_back();
    h.name = *ip;
    h.addresses.push_back(*ip);
    result.site_name = *ip;
    // A literal never changes; the expiry only matters to callers that cache it
    // themselves.
    result.expires = clock_.Now() + options_.max_ttl;
    Post(std::move(callback), std::make_shared<const MxResult>(std::move(result)));
    return;
  }
  if (!IsLookupName(host)) {
    if (absl::Status status = ToLookupName(host, scratch_); !status.ok()) {
      PostResult(std::move(callback), MxOutcome::kNxDomain, std::string(status.message()));
      return;
    }
    host = scratch_;
  }
  if (ServeFromCache(AnswerKind::kHost, host, callback)) return;
  Start(AnswerKind::kHost, host, std::move(callback));
}

bool MxResolver::Impl::ServeFromCache(AnswerKind kind, absl::string_view key, Callback& callback) {
  if (shutting_down_) return false;  // Start answers "shutting down"
  std::shared_ptr<const MxResult> hit = cache_.Find(kind, key);
  if (hit == nullptr) return false;
  Bump(stats_.cache_hits);
  Post(std::move(callback), hit);
  return true;
}

void MxResolver::Impl::Start(AnswerKind kind, absl::string_view name, Callback callback) {
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
  lookup.name = std::string(name);
  lookup.kind = kind;
  lookup.waiters.push_back(std::move(callback));
  flights.emplace(lookup.name, std::move(owned));
  if (options_.max_lookups_in_flight > 0 && running_lookups_ >= options_.max_lookups_in_flight) {
    // Requests for this name still join it while it waits.
    waiting_.push_back(&lookup);
    return;
  }
  Launch(lookup);  // may finish and free the lookup
}

void MxResolver::Impl::Launch(Lookup& lookup) {
  ++running_lookups_;
  lookup.running = true;
  // Hold the lookup open while sending: c-ares may call back synchronously
  // (e.g. on a bad name), and Finish must not run before every query has been
  // sent.
  ++lookup.pending;
  if (channel_ != nullptr && channel_dirty_ && active_queries_ == 0) {
    // No query holds the channel, so destroying it runs no callbacks.
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  if (channel_ == nullptr) {
    if (absl::Status status = InitChannel(); !status.ok()) {
      MxResult& result = lookup.result.emplace();
      result.error = status.ToString();
      Release(lookup);
      return;
    }
  }
  if (lookup.kind == AnswerKind::kMx) {
    SendQuery(lookup, QueryType::kMx, 0);
  } else {
    lookup.hosts.emplace_back().name = lookup.name;
    lookup.site_name = lookup.name;
    SendAddressQueries(lookup, 0);
  }
  Release(lookup);  // may finish and free the lookup
  UpdateTimer();
}

void MxResolver::Impl::LaunchWaiting() {
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

void MxResolver::Impl::SendQuery(Lookup& lookup, QueryType type, size_t host_index) {
  ++lookup.pending;
  ++active_queries_;
  Bump(stats_.queries_sent);
  const std::string& name = type == QueryType::kMx ? lookup.name : lookup.hosts[host_index].name;
  const int rr_type = type == QueryType::kMx ? ns_t_mx : type == QueryType::kA ? ns_t_a : ns_t_aaaa;
  auto* ctx = new QueryContext{this, &lookup, type, host_index, uv_hrtime()};
  ares_query(channel_, name.c_str(), ns_c_in, rr_type, &AresCallback, ctx);
}

void MxResolver::Impl::SendAddressQueries(Lookup& lookup, size_t host_index) {
  const IpLookupStrategy strategy = options_.ip_lookup_strategy;
  // Mark both first: a query may call back synchronously, and the host must
  // not look finished before its second query is sent.
  HostState& host = lookup.hosts[host_index];
  host.queried[kV4] = strategy != IpLookupStrategy::kIpv6Only;
  host.queried[kV6] = strategy != IpLookupStrategy::kIpv4Only;
  const bool v4 = host.queried[kV4];
  const bool v6 = host.queried[kV6];
  if (v4) SendQuery(lookup, QueryType::kA, host_index);
  if (v6) SendQuery(lookup, QueryType::kAaaa, host_index);
}

void MxResolver::Impl::Release(Lookup& lookup) {
  DCHECK(lookup.pending > 0);
  if (--lookup.pending == 0) Finish(lookup);
}

void MxResolver::Impl::AresCallback(void* arg, int status, int /*timeouts*/, unsigned char* abuf,
                                    int alen) {
  std::unique_ptr<QueryContext> ctx(static_cast<QueryContext*>(arg));
  ctx->impl->OnAnswer(*ctx, status, abuf, alen);
}

void MxResolver::Impl::OnAnswer(const QueryContext& ctx, int status, unsigned char* abuf,
                                int alen) {
  --active_queries_;
  Lookup& lookup = *ctx.lookup;
  if (destroying_) {
    // ~Impl frees the lookups; their callbacks are dropped.
    --lookup.pending;
    return;
  }
  if (status == ARES_ECONNREFUSED) channel_dirty_ = true;
  const bool cancelled = IsCancelled(status);
  if (!cancelled) {
    stats_.lookup_seconds.Observe(static_cast<double>(uv_hrtime() - ctx.start_ns) / 1e9);
  }
  if (abuf == nullptr) alen = 0;
  const int effective = ctx.type == QueryType::kMx
                            ? HandleMx(lookup, status, abuf, alen)
                            : HandleAddresses(lookup, ctx.type, ctx.host_index, status, abuf, alen);
  if (!cancelled) {
    Bump(stats_.lookups[static_cast<size_t>(ctx.type)][static_cast<size_t>(Classify(effective))]);
  }
  Release(lookup);  // nothing may touch `lookup` after this
}

int MxResolver::Impl::HandleMx(Lookup& lookup, int status, unsigned char* abuf, int alen) {
  const size_t len = static_cast<size_t>(alen);
  auto set_result = [&](MxOutcome outcome, std::string error) {
    MxResult result;
    result.outcome = outcome;
    result.error = std::move(error);
    lookup.result = std::move(result);
  };
  if (shutting_down_) {
    set_result(MxOutcome::kTemporaryFailure, std::string(kShuttingDown));
    return status;
  }
  ares_mx_reply* replies = nullptr;
  if (status == ARES_SUCCESS) {
    status = ares_parse_mx_reply(abuf, alen, &replies);
    if (status != ARES_SUCCESS && status != ARES_ENODATA) {
      set_result(MxOutcome::kTemporaryFailure,
                 absl::StrCat("MX answer for ", lookup.name, ": ", ares_strerror(status)));
      return status;
    }
    // An answer holding only a CNAME (to a name without MX) parses as success
    // without records: the same as NODATA.
    if (status == ARES_SUCCESS && replies == nullptr) status = ARES_ENODATA;
  }
  switch (status) {
    case ARES_SUCCESS:
      break;
    case ARES_ENODATA:
      // RFC 5321 section 5.1: no MX records, so the domain itself is the
      // implicit MX. "No MX" holds for the negative TTL (RFC 2308), and for
      // as long as the CNAMEs that led to it.
      lookup.implicit_mx = true;
      lookup.mx_ttl = MinAnswerTtl(abuf, len, ns_t_mx);
      lookup.mx_negative_ttl = NegativeTtl(abuf, len);
      lookup.site_name = lookup.name;
      lookup.hosts.emplace_back().name = lookup.name;
      SendAddressQueries(lookup, 0);
      return status;
    case ARES_ENOTFOUND:
      lookup.mx_negative_ttl = NegativeTtl(abuf, len);
      set_result(MxOutcome::kNxDomain, absl::StrCat(lookup.name, ": NXDOMAIN"));
      return status;
    case ARES_EBADNAME:
      // A name that cannot be put in a query cannot exist either.
      set_result(MxOutcome::kNxDomain, absl::StrCat(lookup.name, ": invalid domain name"));
      return status;
    default:
      set_result(MxOutcome::kTemporaryFailure,
                 absl::StrCat("MX lookup for ", lookup.name, ": ", AresStatusText(status)));
      return status;
  }

  lookup.mx_ttl = MinAnswerTtl(abuf, len, ns_t_mx);
  std::vector<HostState> hosts;
  std::vector<std::string> site;
  bool has_root = false;
  for (ares_mx_reply* r = replies; r != nullptr; r = r->next) {
    std::string host = NormalizeName(r->host == nullptr ? "" : r->host);
    if (host.empty()) {
      // "MX 0 ." (c-ares expands the root name to ""): null MX, not a host.
      has_root |= r->priority == 0;
      continue;
    }
    auto same = std::find_if(hosts.begin(), hosts.end(),
                             [&](const HostState& h) { return h.name == host; });
    if (same != hosts.end()) {
      same->preference = std::min<int>(same->preference, r->priority);
      continue;
    }
    site.push_back(host);
    HostState& added = hosts.emplace_back();
    added.name = std::move(host);
    added.preference = r->priority;
  }
  ares_free_data(replies);

  if (hosts.empty()) {
    if (has_root) {
      set_result(MxOutcome::kNullMx, absl::StrCat(lookup.name, ": null MX (RFC 7505)"));
    } else {
      set_result(MxOutcome::kTemporaryFailure,
                 absl::StrCat("MX answer for ", lookup.name, " lists no usable host"));
    }
    return status;
  }
  // A null MX next to real hosts is a misconfiguration (RFC 7505 section 3);
  // the real hosts are used.

  // The site is the whole MX set, so that a host without addresses for a
  // while, or the cut to kMaxMxHosts, does not move the domain to another
  // site.
  std::sort(site.begin(), site.end());
  lookup.site_name = absl::StrJoin(site, ",");

  // Equal preferences are tried in random order (RFC 5321 section 5.1):
  // shuffle, then sort stably.
  std::shuffle(hosts.begin(), hosts.end(), bitgen_);
  std::stable_sort(hosts.begin(), hosts.end(), [](const HostState& a, const HostState& b) {
    return a.preference < b.preference;
  });
  if (hosts.size() > kMaxMxHosts) hosts.resize(kMaxMxHosts);
  lookup.hosts = std::move(hosts);
  for (size_t i = 0; i < lookup.hosts.size(); ++i) {
    HostState& host = lookup.hosts[i];
    if (std::optional<std::string> ip = ParseIpLiteral(host.name)) {
      // Not allowed by RFC 5321, but seen in the wild: use the address as
      // given, if the strategy allows its family.
      const int family = ip->find(':') == std::string::npos ? kV4 : kV6;
      const IpLookupStrategy strategy = options_.ip_lookup_strategy;
      const bool allowed = family == kV4 ? strategy != IpLookupStrategy::kIpv6Only
                                         : strategy != IpLookupStrategy::kIpv4Only;
      if (allowed) host.addresses[family].push_back(*ip);
      continue;
    }
    SendAddressQueries(lookup, i);
  }
  return status;
}

int MxResolver::Impl::HandleAddresses(Lookup& lookup, QueryType type, size_t host_index, int status,
                                      unsigned char* abuf, int alen) {
  const size_t len = static_cast<size_t>(alen);
  HostState& host = lookup.hosts[host_index];
  const int family = type == QueryType::kA ? kV4 : kV6;
  std::vector<std::string>& out = host.addresses[family];
  if (status == ARES_SUCCESS) {
    // c-ares follows a CNAME chain in the answer to the addresses of its last
    // name.
    char text[INET6_ADDRSTRLEN];
    int count = kMaxAddresses;
    if (type == QueryType::kA) {
      ares_addrttl addrs[kMaxAddresses];
      status = ares_parse_a_reply(abuf, alen, nullptr, addrs, &count);
      for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
        if (inet_ntop(AF_INET, &addrs[i].ipaddr, text, sizeof(text)) == nullptr) continue;
        out.emplace_back(text);
      }
    } else {
      ares_addr6ttl addrs[kMaxAddresses];
      status = ares_parse_aaaa_reply(abuf, alen, nullptr, addrs, &count);
      for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
        if (inet_ntop(AF_INET6, &addrs[i].ip6addr, text, sizeof(text)) == nullptr) continue;
        out.emplace_back(text);
      }
    }
    // An answer with only a CNAME and no address is the same as no data.
    if (status == ARES_SUCCESS && out.empty()) status = ARES_ENODATA;
    // The smallest TTL along the chain: every CNAME and address record.
    if (status == ARES_SUCCESS) {
      LowerTtl(host.ttl, MinAnswerTtl(abuf, len, type == QueryType::kA ? ns_t_a : ns_t_aaaa));
    }
  }
  if (status == ARES_ENODATA || status == ARES_ENOTFOUND) {
    // Without a SOA, RFC 2308 allows no negative caching: 0, which the clamp
    // raises to min_ttl.
    LowerTtl(host.negative_ttl, NegativeTtl(abuf, len).value_or(0));
  }
  host.status[family] = status;
  return status;
}

void MxResolver::Impl::Finish(Lookup& lookup) {
  MxResult result = BuildResult(lookup);
  std::shared_ptr<const MxResult> shared;
  if (result.outcome == MxOutcome::kTemporaryFailure && !shutting_down_) {
    shared = cache_.FindStale(lookup.kind, lookup.name);
    if (shared != nullptr) Bump(stats_.stale_served, lookup.waiters.size());
  }
  if (shared == nullptr) {
    const bool cacheable = !shutting_down_ && result.outcome != MxOutcome::kTemporaryFailure;
    shared = std::make_shared<const MxResult>(std::move(result));
    if (cacheable) cache_.Insert(lookup.kind, lookup.name, shared);
  }
  for (Callback& waiter : lookup.waiters) Post(std::move(waiter), shared);
  if (lookup.running) --running_lookups_;
  auto& flights = in_flight_[static_cast<size_t>(lookup.kind)];
  flights.erase(flights.find(lookup.name));  // frees `lookup`
  LaunchWaiting();
}

absl::string_view MxResolver::Impl::FamiliesText() const {
  switch (options_.ip_lookup_strategy) {
    case IpLookupStrategy::kIpv4Only:
      return "A";
    case IpLookupStrategy::kIpv6Only:
      return "AAAA";
    default:
      return "A or AAAA";
  }
}

MxResult MxResolver::Impl::BuildResult(Lookup& lookup) {
  const absl::Time now = clock_.Now();
  if (shutting_down_) {
    MxResult result;
    result.error = std::string(kShuttingDown);
    result.expires = now;
    return result;
  }
  if (lookup.result) {
    MxResult result = std::move(*lookup.result);
    switch (result.outcome) {
      case MxOutcome::kTemporaryFailure:
        result.expires = now;  // never cached
        break;
      case MxOutcome::kNullMx:
        result.expires = cache_.ExpiryFor(lookup.mx_ttl);
        break;
      default:  // kNxDomain: RFC 2308, min_ttl without a SOA
        result.expires = cache_.ExpiryFor(lookup.mx_negative_ttl);
        break;
    }
    return result;
  }

  const bool v6_first = options_.ip_lookup_strategy == IpLookupStrategy::kIpv6ThenIpv4;
  MxResult result;
  std::optional<uint32_t> ttl = lookup.mx_ttl;
  if (lookup.implicit_mx) LowerTtl(ttl, lookup.mx_negative_ttl);
  bool any_temporary = false;
  std::vector<std::string> failures;
  for (HostState& host : lookup.hosts) {
    int reported = ARES_ENODATA;  // the status a failure message names
    bool have_reported = false;
    for (int family : {kV4, kV6}) {
      if (!host.queried[family]) continue;
      const int status = host.status[family];
      if (IsTemporary(status)) {
        any_temporary = true;
        if (!IsTemporary(reported)) reported = status;
        have_reported = true;
      } else if (!have_reported) {
        reported = status;
        have_reported = true;
      }
    }
    std::vector<std::string>& first = host.addresses[v6_first ? kV6 : kV4];
    std::vector<std::string>& second = host.addresses[v6_first ? kV4 : kV6];
    if (first.empty() && second.empty()) {
      failures.push_back(absl::StrCat(host.name, ": ", AresStatusText(reported)));
      continue;
    }
    MxHost& out = result.hosts.emplace_back();
    out.name = std::move(host.name);
    out.preference = host.preference;
    out.addresses = std::move(first);
    out.addresses.insert(out.addresses.end(), std::make_move_iterator(second.begin()),
                         std::make_move_iterator(second.end()));
    LowerTtl(ttl, host.ttl);
  }

  if (!result.hosts.empty()) {
    result.outcome = MxOutcome::kOk;
    result.site_name = std::move(lookup.site_name);
    // A host that failed only for now may come back; do not pin the smaller
    // answer for long.
    result.expires = any_temporary ? now + options_.min_ttl : cache_.ExpiryFor(ttl);
    return result;
  }
  if (any_temporary) {
    result.outcome = MxOutcome::kTemporaryFailure;
    result.error =
        lookup.kind == AnswerKind::kMx && !lookup.implicit_mx
            ? absl::StrCat("no MX host has an address (", absl::StrJoin(failures, "; "), ")")
            : absl::StrCat("address lookup for ", failures.front());
    result.expires = now;
    return result;
  }
  if (lookup.kind == AnswerKind::kMx && !lookup.implicit_mx) {
    // Every MX host is dangling (or has only addresses of a family the
    // strategy excludes): a problem on the receiving side that may get fixed.
    result.outcome = MxOutcome::kTemporaryFailure;
    result.error = absl::StrCat("no MX host has an address (", absl::StrJoin(failures, "; "), ")");
    result.expires = now;
    return result;
  }
  // A negative answer: cached for the smallest negative TTL of its parts.
  const HostState& host = lookup.hosts.front();
  std::optional<uint32_t> negative_ttl = host.negative_ttl;
  if (lookup.implicit_mx) LowerTtl(negative_ttl, lookup.mx_negative_ttl.value_or(0));
  bool all_nxdomain = true;
  for (int family : {kV4, kV6}) {
    if (host.queried[family]) all_nxdomain &= host.status[family] == ARES_ENOTFOUND;
  }
  if (lookup.kind == AnswerKind::kHost && all_nxdomain) {
    result.outcome = MxOutcome::kNxDomain;
    result.error = absl::StrCat(lookup.name, ": NXDOMAIN");
  } else {
    result.outcome = MxOutcome::kNoAddresses;
    result.error =
        lookup.implicit_mx
            ? absl::StrCat(lookup.name, " has no MX records and no ", FamiliesText(), " records")
            : absl::StrCat(lookup.name, " has no ", FamiliesText(), " records");
  }
  result.expires = cache_.ExpiryFor(negative_ttl);
  return result;
}

void MxResolver::Impl::Post(Callback&& callback, const std::shared_ptr<const MxResult>& result) {
  if (idle_ == nullptr || uv_is_closing(&idle_->handle)) {
    // Only reachable by calling Resolve after Shutdown's callbacks have all
    // run.
    LOG(ERROR) << "MxResolver used after shutdown; dropping a callback";
    return;
  }
  deliveries_.push_back(Delivery{std::move(callback), result});
  if (!uv_is_active(&idle_->handle)) uv_idle_start(&idle_->idle, &OnIdle);
}

void MxResolver::Impl::PostResult(Callback&& callback, MxOutcome outcome, std::string error) {
  MxResult result;
  result.outcome = outcome;
  result.error = std::move(error);
  result.expires = clock_.Now();
  Post(std::move(callback), std::make_shared<const MxResult>(std::move(result)));
}

void MxResolver::Impl::Drain() {
  // All posted callbacks run in this one pass. Callbacks may post more (a
  // callback calling Resolve for a cached domain); those run on the next loop
  // iteration. batch_ keeps its capacity, so steady traffic allocates nothing
  // here.
  batch_.swap(deliveries_);
  draining_ = true;
  for (Delivery& d : batch_) d.callback(*d.result);
  draining_ = false;
  batch_.clear();
  if (!deliveries_.empty()) return;
  uv_idle_stop(&idle_->idle);
  if (shutting_down_ && !uv_is_closing(&idle_->handle)) CloseHandle(idle_);
}

void MxResolver::Impl::Shutdown(absl::AnyInvocable<void()> done) {
  if (shutting_down_) {
    LOG(ERROR) << "MxResolver::Shutdown called twice";
    return;
  }
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  if (channel_ != nullptr) {
    // Cancelling first lets the callbacks see a whole channel; they finish
    // every lookup with "shutting down" and send nothing new. ares_destroy then
    // closes the sockets.
    ares_cancel(channel_);
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  // Lookups that never started end the same way.
  while (!waiting_.empty()) {
    Lookup* waiting = waiting_.front();
    waiting_.pop_front();
    Finish(*waiting);
  }
  DCHECK(in_flight_[0].empty() && in_flight_[1].empty());
  while (!polls_.empty()) {
    auto it = polls_.begin();
    CloseHandle(it->second);
    polls_.erase(it);
  }
  CloseHandle(timer_);
  // The idle handle closes once the "shutting down" callbacks have run (Drain
  // closes it; it may be on the stack right now if a callback called Shutdown).
  if (deliveries_.empty() && !draining_) CloseHandle(idle_);
}

void MxResolver::Impl::SockStateThunk(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<Impl*>(data)->OnSockState(fd, readable, writable);
}

void MxResolver::Impl::OnSockState(ares_socket_t fd, int readable, int writable) {
  auto it = polls_.find(fd);
  if (!readable && !writable) {
    if (it != polls_.end()) {
      CloseHandle(it->second);
      polls_.erase(it);
    }
    return;
  }
  HandleBox* box;
  if (it != polls_.end()) {
    box = it->second;
  } else {
    box = NewHandle();
    box->fd = fd;
    if (int rc = uv_poll_init_socket(loop_, &box->poll, fd); rc != 0) {
      // The query still ends through c-ares' own timeout on our timer.
      LOG(ERROR) << "uv_poll_init_socket: " << uv_strerror(rc);
      delete box;
      return;
    }
    handles_.insert(box);
    polls_.emplace(fd, box);
  }
  const int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  if (int rc = uv_poll_start(&box->poll, events, &OnPoll); rc != 0) {
    LOG(ERROR) << "uv_poll_start: " << uv_strerror(rc);
  }
}

void MxResolver::Impl::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* box = static_cast<HandleBox*>(handle->data);
  Impl* impl = box->owner;
  if (impl == nullptr || impl->channel_ == nullptr) return;
  const ares_socket_t fd = box->fd;
  if (status < 0) {
    // Let c-ares find the error on the socket itself.
    ares_process_fd(impl->channel_, fd, fd);
  } else {
    ares_process_fd(impl->channel_, (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
                    (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
  }
  // `box` may be closing now, but it is freed only in its close callback.
  impl->UpdateTimer();
}

void MxResolver::Impl::OnTimer(uv_timer_t* handle) {
  Impl* impl = static_cast<HandleBox*>(handle->data)->owner;
  if (impl == nullptr || impl->channel_ == nullptr) return;
  ares_process_fd(impl->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  impl->UpdateTimer();
}

void MxResolver::Impl::OnIdle(uv_idle_t* handle) {
  Impl* impl = static_cast<HandleBox*>(handle->data)->owner;
  if (impl != nullptr) impl->Drain();
}

void MxResolver::Impl::UpdateTimer() {
  if (channel_ == nullptr || timer_ == nullptr || uv_is_closing(&timer_->handle)) return;
  timeval tv;
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (next == nullptr) {
    uv_timer_stop(&timer_->timer);
    return;
  }
  // Round up so that the timer never fires before c-ares considers the query
  // timed out.
  const uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 +
                      (static_cast<uint64_t>(next->tv_usec) + 999) / 1000;
  uv_timer_start(&timer_->timer, &OnTimer, ms, 0);
}

MxResolver::Impl::HandleBox* MxResolver::Impl::NewHandle() {
  auto* box = new HandleBox;
  box->owner = this;
  box->handle.data = box;
  return box;
}

void MxResolver::Impl::CloseHandle(HandleBox* box) {
  if (uv_is_closing(&box->handle)) return;
  uv_close(&box->handle, [](uv_handle_t* h) {
    auto* box = static_cast<HandleBox*>(h->data);
    Impl* owner = box->owner;
    // OnHandleClosed may run the shutdown callback, which may destroy the
    // resolver, but boxes are not owned by it.
    if (owner != nullptr) owner->OnHandleClosed(box);
    delete box;
  });
}

void MxResolver::Impl::OnHandleClosed(HandleBox* box) {
  handles_.erase(box);
  if (!shutting_down_ || !handles_.empty() || !shutdown_done_) return;
  // The caller may destroy the resolver inside `done`: nothing may touch `this`
  // afterwards.
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

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
  auto impl = std::make_unique<Impl>(loop, options, clock);
  if (absl::Status status = impl->Init(); !status.ok()) return status;
  return std::unique_ptr<MxResolver>(new MxResolver(std::move(impl)));
}

MxResolver::MxResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MxResolver::~MxResolver() = default;

void MxResolver::Resolve(absl::string_view domain, Callback callback) {
  impl_->Resolve(domain, std::move(callback));
}

void MxResolver::ResolveHost(absl::string_view host, Callback callback) {
  impl_->ResolveHost(host, std::move(callback));
}

void MxResolver::Shutdown(absl::AnyInvocable<void()> done) { impl_->Shutdown(std::move(done)); }

const ResolverStats& MxResolver::stats() const { return impl_->stats(); }

uint64_t MxResolver::queries_sent() const {
  return impl_->stats().queries_sent.load(std::memory_order_relaxed);
}

uint64_t MxResolver::cache_hits() const {
  return impl_->stats().cache_hits.load(std::memory_order_relaxed);
}

}  // namespace volley::dns
