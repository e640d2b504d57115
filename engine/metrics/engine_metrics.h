// The engine's metrics (README, "Metrics"): every volley_* series, registered once on a
// Registry. Counters are bumped where things happen (event_counters.h subscribes to the
// events; the connection pool and the spool writer count their own); gauges are set at scrape
// time from what the queues and listeners hold (ScrapeTotals), never kept in step by hand.
#ifndef VOLLEY_ENGINE_METRICS_ENGINE_METRICS_H_
#define VOLLEY_ENGINE_METRICS_ENGINE_METRICS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dns/resolver.h"
#include "engine/base/histogram.h"
#include "engine/metrics/loop_lag.h"
#include "engine/metrics/registry.h"
#include "engine/metrics/site_metrics.h"

namespace volley::metrics {

enum class Outcome { kDelivered = 0, kTransientFailure, kBounced, kExpired, kSuppressed, kCount };
enum class QueueState { kScheduled = 0, kReady, kInFlight, kCount };
enum class Direction { kInbound = 0, kOutbound, kCount };

// What one scrape gathers from the shards, each adding its own part on its own loop thread.
// Not thread-safe: the scrape serialises the additions.
struct ScrapeTotals {
  std::array<int64_t, static_cast<size_t>(QueueState::kCount)> queue{};
  std::array<int64_t, static_cast<size_t>(Direction::kCount)> connections{};
  // Recipients in the spool, all states (-1: unknown).
  int64_t spooled_recipients = -1;
  uint64_t spool_bytes = 0;
  uint64_t spool_free_bytes = 0;
  bool spool_refusing = false;
  // Active suspensions (adaptive/suspension_store.h): distinct domains named, and all.
  int64_t suspended_domains = 0;
  int64_t suspensions = 0;

  // The shards' resolvers, summed.
  void AddDns(const dns::ResolverStats& stats);
  uint64_t dns_lookups[dns::kQueryTypeCount][dns::kQueryResultCount] = {};
  uint64_t dns_cache_hits = 0;
  uint64_t dns_stale = 0;
  uint64_t dns_coalesced = 0;
  std::unique_ptr<Histogram> dns_lookup_seconds;

  // Per site, and by tenant and campaign (site_metrics.h).
  SiteScrape sites;
};

// The reasons of volley_injection_refusals_total, as the listeners, sessions and the SMTP
// injection report them ("other" last).
inline constexpr absl::string_view kInjectionRefusalReasons[] = {"connections",
                                                                 "connections_per_ip",
                                                                 "connection_rate_per_ip",
                                                                 "command_timeout",
                                                                 "data_rate",
                                                                 "session_timeout",
                                                                 "tls_required",
                                                                 "auth_required",
                                                                 "auth_failed",
                                                                 "too_many_errors",
                                                                 "memory",
                                                                 "backpressure",
                                                                 "backpressure_held",
                                                                 "message_rate_per_user",
                                                                 "relay_denied",
                                                                 "bad_address",
                                                                 "other"};

// Series updates are thread-safe (see Registry); Render runs on the scraping thread.
class EngineMetrics {
 public:
  // `site_metrics_limit`: [http] site_metrics_limit.
  explicit EngineMetrics(int shards, int site_metrics_limit = 100);
  EngineMetrics(const EngineMetrics&) = delete;
  EngineMetrics& operator=(const EngineMetrics&) = delete;

  int any_thread_slot() const { return registry_.any_thread_slot(); }

  // volley_messages_received_total{listener}: "smtp" (the [inject.smtp] listener's name),
  // "dsn" (Volley's own delivery notices) and every name given to AddListener, which must be
  // called before scrapes are served; a name it does not know counts as "smtp".
  void AddListener(absl::string_view name);
  Counter& messages_received(absl::string_view listener);
  Counter& deliveries(Outcome outcome) { return *deliveries_[static_cast<size_t>(outcome)]; }
  Counter& connections_opened(bool ok) { return *connections_opened_[ok ? 0 : 1]; }
  // By the reply code's first digit, 2 to 5.
  Counter& smtp_replies(int klass) { return *smtp_replies_[static_cast<size_t>(klass - 2)]; }
  Counter& tls_handshakes(bool ok) { return *tls_handshakes_[ok ? 0 : 1]; }
  Histogram& delivery_latency() { return *delivery_latency_; }
  // volley_injection_refusals_total{reason}: what the submission listeners refused to protect
  // the engine (kInjectionRefusalReasons; any other reason counts as "other").
  void CountInjectionRefusal(int shard, absl::string_view reason);
  // volley_auth_attempts_total{result}: AUTH exchanges checked, "success" or "failure".
  Counter& auth_attempts(bool ok) { return *auth_attempts_[ok ? 0 : 1]; }
  // volley_inject_memory_bytes: message content the sessions hold ([inject] max_memory).
  Gauge& inject_memory_bytes() { return *inject_memory_bytes_; }
  Histogram& spool_commit() { return *spool_commit_; }
  // After every spool commit (on the writer thread): `messages` new messages were made durable
  // by it (such a commit is synced), `ok` whether RocksDB took it.
  void CountSpoolCommit(absl::Duration elapsed, int messages, bool ok);

  // One webhook's series, labelled with its name: the events waiting in its queue, the events
  // its endpoint accepted, and the requests that failed. Call before serving scrapes.
  struct WebhookSeries {
    Gauge* backlog = nullptr;
    Counter* sent = nullptr;
    Counter* failures = nullptr;
  };
  WebhookSeries AddWebhook(absl::string_view name);

  // Where shard `shard`'s LoopLagProbe records (volley_loop_lag_seconds{shard}).
  LoopLag& loop_lag(int shard) { return *loop_lags_[static_cast<size_t>(shard)]; }

  // The whole exposition: the gauges from `totals` (queue sizes, connections, spool), then
  // every series, the DNS statistics, the sites, the loop lags, the process series
  // (process_metrics.h) and volley_build_info.
  std::string Render(const ScrapeTotals& totals);

 private:
  Registry registry_;
  const int site_metrics_limit_;
  absl::flat_hash_map<std::string, Counter*> messages_received_;
  std::array<Counter*, static_cast<size_t>(Outcome::kCount)> deliveries_;
  std::array<Gauge*, static_cast<size_t>(QueueState::kCount)> queue_size_;
  std::array<Gauge*, static_cast<size_t>(Direction::kCount)> connections_open_;
  std::array<Counter*, 2> connections_opened_;
  std::array<Counter*, 4> smtp_replies_;
  std::array<Counter*, 2> tls_handshakes_;
  Histogram* delivery_latency_;
  Histogram* spool_commit_;
  Counter* spool_commit_failures_;
  Counter* spool_synced_commits_;
  Counter* spool_synced_messages_;
  Gauge* spool_bytes_;
  Gauge* spool_free_bytes_;
  Gauge* spool_refusing_;
  Gauge* suspended_domains_;
  std::vector<Counter*> injection_refusals_;  // parallel to kInjectionRefusalReasons
  std::array<Counter*, 2> auth_attempts_;
  Gauge* inject_memory_bytes_;
  Gauge* suspensions_;
  std::vector<std::unique_ptr<LoopLag>> loop_lags_;  // by shard
};

}  // namespace volley::metrics

#endif  // VOLLEY_ENGINE_METRICS_ENGINE_METRICS_H_
