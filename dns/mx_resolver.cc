#include "dns/mx_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

}  // namespace

// All calls and callbacks happen on the loop's thread.
//
// Lifetimes: every libuv handle lives in a heap HandleBox that is freed in its
// close callback, never by ~Impl, so that the resolver can be destroyed while
// closes are still pending. A Lookup lives in in_flight_ until its last c-ares
// query has called back, so the Lookup* a query carries is valid whenever
// c-ares calls us.
class MxResolver::Impl {
 public:
  Impl(uv_loop_t* loop, const ResolverOptions& options, Clock& clock)
      : loop_(loop), options_(options), clock_(clock) {}
  ~Impl();

  absl::Status Init();
  void Resolve(absl::string_view domain, Callback callback);
  void ResolveHost(absl::string_view host, Callback callback);
  void Shutdown(absl::AnyInvocable<void()> done);

  uint64_t queries_sent() const { return queries_sent_; }
  uint64_t cache_hits() const { return cache_hits_; }

 private:
  enum class LookupKind { kMx, kHost };
  enum class QueryType { kMx, kA, kAaaa };

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
    std::vector<std::string> v4;
    std::vector<std::string> v6;
    int a_status = ARES_SUCCESS;
    int aaaa_status = ARES_SUCCESS;
    std::optional<uint32_t> ttl;  // smallest TTL of the address records
  };

  struct Lookup {
    std::string key;
    std::string name;
    LookupKind kind = LookupKind::kMx;
    bool implicit_mx = false;
    std::vector<Callback> waiters;
    int pending = 0;  // outstanding queries, plus one while queries are being sent
    std::optional<uint32_t> mx_ttl;
    std::vector<HostState> hosts;
    std::optional<MxResult> result;  // set when the outcome is known without addresses
  };

  struct QueryContext {
    Impl* impl;
    Lookup* lookup;
    QueryType type;
    size_t host_index;
  };

  struct Delivery {
    Callback callback;
    std::shared_ptr<const MxResult> result;
  };

  struct CacheEntry {
    std::shared_ptr<const MxResult> result;
    std::list<std::string>::iterator lru;
  };

  absl::Status InitChannel();
  void Start(LookupKind kind, std::string key, std::string name, Callback callback);
  bool ServeFromCache(const std::string& key, Callback& callback);
  void SendQuery(Lookup& lookup, QueryType type, size_t host_index);
  void SendAddressQueries(Lookup& lookup, size_t host_index);
  void Release(Lookup& lookup);
  void OnAnswer(const QueryContext& ctx, int status, unsigned char* abuf, int alen);
  void HandleMx(Lookup& lookup, int status, unsigned char* abuf, int alen);
  void HandleAddresses(Lookup& lookup, QueryType type, size_t host_index, int status,
                       unsigned char* abuf, int alen);
  void Finish(Lookup& lookup);
  MxResult BuildResult(Lookup& lookup);
  absl::Time ExpiryFor(std::optional<uint32_t> ttl) const;
  void Insert(const std::string& key, std::shared_ptr<const MxResult> result);
  void Post(Callback callback, std::shared_ptr<const MxResult> result);
  void PostFailure(Callback callback, std::string error);
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

  absl::flat_hash_map<std::string, std::unique_ptr<Lookup>> in_flight_;
  absl::flat_hash_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;  // front: most recently used
  std::vector<Delivery> deliveries_;

  bool shutting_down_ = false;
  bool destroying_ = false;
  bool draining_ = false;
  absl::AnyInvocable<void()> shutdown_done_;

  uint64_t queries_sent_ = 0;
  uint64_t cache_hits_ = 0;
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
  // MX sets come back over UDP instead of falling back to TCP.
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
  std::string name = NormalizeName(domain);
  std::string key = absl::StrCat("mx:", name);
  if (ServeFromCache(key, callback)) return;
  Start(LookupKind::kMx, std::move(key), std::move(name), std::move(callback));
}

void MxResolver::Impl::ResolveHost(absl::string_view host, Callback callback) {
  if (std::optional<std::string> ip = ParseIpLiteral(host)) {
    MxResult result;
    result.outcome = MxOutcome::kOk;
    MxHost& h = result.hosts.emplace_back();
    h.name = *ip;
    h.addresses.push_back(*ip);
    // A literal never changes; the expiry only matters to callers that cache it
    // themselves.
    result.expires = clock_.Now() + options_.max_ttl;
    Post(std::move(callback), std::make_shared<const MxResult>(std::move(result)));
    return;
  }
  std::string name = NormalizeName(host);
  std::string key = absl::StrCat("host:", name);
  if (ServeFromCache(key, callback)) return;
  Start(LookupKind::kHost, std::move(key), std::move(name), std::move(callback));
}

bool MxResolver::Impl::ServeFromCache(const std::string& key, Callback& callback) {
  if (shutting_down_) return false;  // Start answers "shutting down"
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  if (clock_.Now() >= it->second.result->expires) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++cache_hits_;
  Post(std::move(callback), it->second.result);
  return true;
}

void MxResolver::Impl::Start(LookupKind kind, std::string key, std::string name,
                             Callback callback) {
  if (shutting_down_) {
    PostFailure(std::move(callback), std::string(kShuttingDown));
    return;
  }
  if (auto it = in_flight_.find(key); it != in_flight_.end()) {
    it->second->waiters.push_back(std::move(callback));
    return;
  }
  if (name.empty()) {
    MxResult result;
    result.outcome = MxOutcome::kNxDomain;
    result.error = "empty domain name";
    result.expires = clock_.Now();
    Post(std::move(callback), std::make_shared<const MxResult>(std::move(result)));
    return;
  }
  if (channel_ != nullptr && channel_dirty_ && active_queries_ == 0) {
    // No query holds the channel, so destroying it runs no callbacks.
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  if (channel_ == nullptr) {
    if (absl::Status status = InitChannel(); !status.ok()) {
      PostFailure(std::move(callback), status.ToString());
      return;
    }
  }

  auto owned = std::make_unique<Lookup>();
  Lookup& lookup = *owned;
  lookup.key = key;
  lookup.name = std::move(name);
  lookup.kind = kind;
  lookup.waiters.push_back(std::move(callback));
  in_flight_.emplace(std::move(key), std::move(owned));

  // Hold the lookup open while sending: c-ares may call back synchronously
  // (e.g. on a bad name), and Finish must not run before every query has been
  // sent.
  ++lookup.pending;
  if (kind == LookupKind::kMx) {
    SendQuery(lookup, QueryType::kMx, 0);
  } else {
    HostState& host = lookup.hosts.emplace_back();
    host.name = lookup.name;
    SendAddressQueries(lookup, 0);
  }
  Release(lookup);  // may finish and free the lookup
  UpdateTimer();
}

void MxResolver::Impl::SendQuery(Lookup& lookup, QueryType type, size_t host_index) {
  ++lookup.pending;
  ++active_queries_;
  ++queries_sent_;
  const std::string& name = type == QueryType::kMx ? lookup.name : lookup.hosts[host_index].name;
  const int rr_type = type == QueryType::kMx ? ns_t_mx : type == QueryType::kA ? ns_t_a : ns_t_aaaa;
  auto* ctx = new QueryContext{this, &lookup, type, host_index};
  ares_query(channel_, name.c_str(), ns_c_in, rr_type, &AresCallback, ctx);
}

void MxResolver::Impl::SendAddressQueries(Lookup& lookup, size_t host_index) {
  SendQuery(lookup, QueryType::kA, host_index);
  SendQuery(lookup, QueryType::kAaaa, host_index);
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
  if (ctx.type == QueryType::kMx) {
    HandleMx(lookup, status, abuf, alen);
  } else {
    HandleAddresses(lookup, ctx.type, ctx.host_index, status, abuf, alen);
  }
  Release(lookup);  // nothing may touch `lookup` after this
}

void MxResolver::Impl::HandleMx(Lookup& lookup, int status, unsigned char* abuf, int alen) {
  auto set_result = [&](MxOutcome outcome, std::string error) {
    MxResult result;
    result.outcome = outcome;
    result.error = std::move(error);
    lookup.result = std::move(result);
  };
  if (shutting_down_) {
    set_result(MxOutcome::kTemporaryFailure, std::string(kShuttingDown));
    return;
  }
  ares_mx_reply* replies = nullptr;
  if (status == ARES_SUCCESS) {
    status = ares_parse_mx_reply(abuf, alen, &replies);
    if (status != ARES_SUCCESS && status != ARES_ENODATA) {
      set_result(MxOutcome::kTemporaryFailure,
                 absl::StrCat("MX answer for ", lookup.name, ": ", ares_strerror(status)));
      return;
    }
  }
  switch (status) {
    case ARES_SUCCESS:
      break;
    case ARES_ENODATA:
      // RFC 5321 section 5.1: no MX records, so the domain itself is the
      // implicit MX.
      lookup.implicit_mx = true;
      lookup.hosts.emplace_back().name = lookup.name;
      SendAddressQueries(lookup, 0);
      return;
    case ARES_ENOTFOUND:
      set_result(MxOutcome::kNxDomain, absl::StrCat(lookup.name, ": NXDOMAIN"));
      return;
    case ARES_EBADNAME:
      // A name that cannot be put in a query cannot exist either.
      set_result(MxOutcome::kNxDomain, absl::StrCat(lookup.name, ": invalid domain name"));
      return;
    default:
      set_result(MxOutcome::kTemporaryFailure,
                 absl::StrCat("MX lookup for ", lookup.name, ": ", AresStatusText(status)));
      return;
  }

  lookup.mx_ttl = MinAnswerTtl(abuf, static_cast<size_t>(alen), ns_t_mx);
  std::vector<HostState> hosts;
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
    return;
  }
  // A null MX next to real hosts is a misconfiguration (RFC 7505 section 3);
  // the real hosts are used.

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
      // given.
      (ip->find(':') == std::string::npos ? host.v4 : host.v6).push_back(*ip);
      continue;
    }
    SendAddressQueries(lookup, i);
  }
}

void MxResolver::Impl::HandleAddresses(Lookup& lookup, QueryType type, size_t host_index,
                                       int status, unsigned char* abuf, int alen) {
  HostState& host = lookup.hosts[host_index];
  std::vector<std::string>& out = type == QueryType::kA ? host.v4 : host.v6;
  if (status == ARES_SUCCESS) {
    char text[INET6_ADDRSTRLEN];
    int count = kMaxAddresses;
    if (type == QueryType::kA) {
      ares_addrttl ttls[kMaxAddresses];
      status = ares_parse_a_reply(abuf, alen, nullptr, ttls, &count);
      for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
        if (inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof(text)) == nullptr) continue;
        out.emplace_back(text);
        const uint32_t ttl = static_cast<uint32_t>(std::max(0, ttls[i].ttl));
        host.ttl = host.ttl ? std::min(*host.ttl, ttl) : ttl;
      }
    } else {
      ares_addr6ttl ttls[kMaxAddresses];
      status = ares_parse_aaaa_reply(abuf, alen, nullptr, ttls, &count);
      for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
        if (inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof(text)) == nullptr) continue;
        out.emplace_back(text);
        const uint32_t ttl = static_cast<uint32_t>(std::max(0, ttls[i].ttl));
        host.ttl = host.ttl ? std::min(*host.ttl, ttl) : ttl;
      }
    }
    // An answer with only a CNAME and no address is the same as no data.
    if (status == ARES_SUCCESS && count == 0) status = ARES_ENODATA;
  }
  (type == QueryType::kA ? host.a_status : host.aaaa_status) = status;
}

void MxResolver::Impl::Finish(Lookup& lookup) {
  MxResult result = BuildResult(lookup);
  const bool cacheable = !shutting_down_ && result.outcome != MxOutcome::kTemporaryFailure;
  auto shared = std::make_shared<const MxResult>(std::move(result));
  if (cacheable) Insert(lookup.key, shared);
  for (Callback& waiter : lookup.waiters) Post(std::move(waiter), shared);
  in_flight_.erase(in_flight_.find(lookup.key));  // frees `lookup`
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
    // Negative answers live for min_ttl; temporary failures are not cached at
    // all.
    // TODO(dns): RFC 2308 negative TTL from the SOA minimum.
    result.expires = result.outcome == MxOutcome::kTemporaryFailure ? now : now + options_.min_ttl;
    return result;
  }

  MxResult result;
  std::optional<uint32_t> ttl = lookup.mx_ttl;
  bool any_temporary = false;
  std::vector<std::string> failures;
  for (HostState& host : lookup.hosts) {
    const bool temporary = IsTemporary(host.a_status) || IsTemporary(host.aaaa_status);
    any_temporary |= temporary;
    if (host.v4.empty() && host.v6.empty()) {
      const int status = IsTemporary(host.a_status) ? host.a_status : host.aaaa_status;
      failures.push_back(absl::StrCat(host.name, ": ", AresStatusText(status)));
      continue;
    }
    MxHost& out = result.hosts.emplace_back();
    out.name = std::move(host.name);
    out.preference = host.preference;
    out.addresses = std::move(host.v4);
    out.addresses.insert(out.addresses.end(), std::make_move_iterator(host.v6.begin()),
                         std::make_move_iterator(host.v6.end()));
    if (host.ttl) ttl = ttl ? std::min(*ttl, *host.ttl) : host.ttl;
  }

  if (!result.hosts.empty()) {
    result.outcome = MxOutcome::kOk;
    // A host that failed only for now may come back; do not pin the smaller
    // answer for long.
    result.expires = any_temporary ? now + options_.min_ttl : ExpiryFor(ttl);
    return result;
  }
  if (any_temporary) {
    result.outcome = MxOutcome::kTemporaryFailure;
    result.error =
        lookup.kind == LookupKind::kMx && !lookup.implicit_mx
            ? absl::StrCat("no MX host has an address (", absl::StrJoin(failures, "; "), ")")
            : absl::StrCat("address lookup for ", failures.front());
    result.expires = now;
    return result;
  }
  if (lookup.kind == LookupKind::kMx && !lookup.implicit_mx) {
    // Every MX host is dangling: a problem on the receiving side that may get
    // fixed.
    result.outcome = MxOutcome::kTemporaryFailure;
    result.error = absl::StrCat("no MX host has an address (", absl::StrJoin(failures, "; "), ")");
    result.expires = now;
    return result;
  }
  const HostState& host = lookup.hosts.front();
  if (lookup.kind == LookupKind::kHost && host.a_status == ARES_ENOTFOUND &&
      host.aaaa_status == ARES_ENOTFOUND) {
    result.outcome = MxOutcome::kNxDomain;
    result.error = absl::StrCat(lookup.name, ": NXDOMAIN");
  } else {
    result.outcome = MxOutcome::kNoAddresses;
    result.error = lookup.implicit_mx ? absl::StrCat(lookup.name, " has no MX, A or AAAA records")
                                      : absl::StrCat(lookup.name, " has no A or AAAA records");
  }
  result.expires = now + options_.min_ttl;
  return result;
}

absl::Time MxResolver::Impl::ExpiryFor(std::optional<uint32_t> ttl) const {
  absl::Duration lifetime = ttl ? absl::Seconds(*ttl) : options_.min_ttl;
  lifetime = std::clamp(lifetime, options_.min_ttl, options_.max_ttl);
  return clock_.Now() + lifetime;
}

void MxResolver::Impl::Insert(const std::string& key, std::shared_ptr<const MxResult> result) {
  if (options_.cache_size == 0) return;
  if (auto it = cache_.find(key); it != cache_.end()) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
  lru_.push_front(key);
  cache_.emplace(key, CacheEntry{std::move(result), lru_.begin()});
  while (cache_.size() > options_.cache_size) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

void MxResolver::Impl::Post(Callback callback, std::shared_ptr<const MxResult> result) {
  if (idle_ == nullptr || uv_is_closing(&idle_->handle)) {
    // Only reachable by calling Resolve after Shutdown's callbacks have all
    // run.
    LOG(ERROR) << "MxResolver used after shutdown; dropping a callback";
    return;
  }
  deliveries_.push_back(Delivery{std::move(callback), std::move(result)});
  if (!uv_is_active(&idle_->handle)) uv_idle_start(&idle_->idle, &OnIdle);
}

void MxResolver::Impl::PostFailure(Callback callback, std::string error) {
  MxResult result;
  result.error = std::move(error);
  result.expires = clock_.Now();
  Post(std::move(callback), std::make_shared<const MxResult>(std::move(result)));
}

void MxResolver::Impl::Drain() {
  // Callbacks may post more (a callback calling Resolve for a cached domain);
  // those run on the next loop iteration.
  std::vector<Delivery> batch;
  batch.swap(deliveries_);
  draining_ = true;
  for (Delivery& d : batch) d.callback(*d.result);
  draining_ = false;
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
  DCHECK(in_flight_.empty());
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

uint64_t MxResolver::queries_sent() const { return impl_->queries_sent(); }
uint64_t MxResolver::cache_hits() const { return impl_->cache_hits(); }

}  // namespace volley::dns
