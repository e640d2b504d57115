#include "engine/metrics/engine_metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/version.h"
#include "engine/metrics/process_metrics.h"

namespace volley::metrics {
namespace {

void CounterText(std::string* out, absl::string_view name, absl::string_view help, uint64_t value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n", name, " ",
                  value, "\n");
}

void AppendDns(const ScrapeTotals& t, std::string* out) {
  absl::StrAppend(out,
                  "# HELP volley_dns_lookups_total DNS queries answered, by record type and "
                  "result.\n# TYPE volley_dns_lookups_total counter\n");
  for (size_t type = 0; type < dns::kQueryTypeCount; ++type) {
    for (size_t result = 0; result < dns::kQueryResultCount; ++result) {
      absl::StrAppend(out, "volley_dns_lookups_total{type=\"",
                      dns::QueryTypeLabel(static_cast<dns::QueryType>(type)), "\",result=\"",
                      dns::QueryResultLabel(static_cast<dns::QueryResult>(result)), "\"} ",
                      t.dns_lookups[type][result], "\n");
    }
  }
  CounterText(out, "volley_dns_cache_hits_total", "Resolutions answered from the cache.",
              t.dns_cache_hits);
  CounterText(out, "volley_dns_stale_answers_total",
              "Resolutions answered with an expired entry because the resolver failed.",
              t.dns_stale);
  CounterText(out, "volley_dns_coalesced_total",
              "Resolutions that joined a lookup already in flight.", t.dns_coalesced);
  if (t.dns_lookup_seconds != nullptr) {
    t.dns_lookup_seconds->Render("volley_dns_lookup_seconds",
                                 "DNS query round trips (or timeouts).", out);
  }
}

}  // namespace

void ScrapeTotals::AddDns(const dns::ResolverStats& stats) {
  for (size_t type = 0; type < dns::kQueryTypeCount; ++type) {
    for (size_t result = 0; result < dns::kQueryResultCount; ++result) {
      dns_lookups[type][result] +=
          stats.Lookups(static_cast<dns::QueryType>(type), static_cast<dns::QueryResult>(result));
    }
  }
  dns_cache_hits += stats.cache_hits.load(std::memory_order_relaxed);
  dns_stale += stats.stale_served.load(std::memory_order_relaxed);
  dns_coalesced += stats.coalesced.load(std::memory_order_relaxed);
  if (dns_lookup_seconds == nullptr) {
    dns_lookup_seconds = std::make_unique<Histogram>(stats.lookup_seconds.bounds());
  }
  dns_lookup_seconds->MergeFrom(stats.lookup_seconds);
}

EngineMetrics::EngineMetrics(int shards, int site_metrics_limit)
    : registry_(shards), site_metrics_limit_(site_metrics_limit) {
  Registry& r = registry_;
  AddListener("smtp");
  AddListener("dsn");
  AddListener("http");  // POST /api/inject/v1
  static constexpr absl::string_view kOutcomes[] = {"delivered", "transient_failure", "bounced",
                                                    "expired", "suppressed"};
  for (size_t i = 0; i < deliveries_.size(); ++i) {
    deliveries_[i] = &r.AddCounter("volley_deliveries_total", "Recipient outcomes, by outcome.",
                                   {{"outcome", std::string(kOutcomes[i])}});
  }
  static constexpr absl::string_view kStates[] = {"scheduled", "ready", "in_flight"};
  for (size_t i = 0; i < queue_size_.size(); ++i) {
    queue_size_[i] = &r.AddGauge("volley_queue_size", "Queued recipients, by state.",
                                 {{"state", std::string(kStates[i])}});
  }
  static constexpr absl::string_view kDirections[] = {"inbound", "outbound"};
  for (size_t i = 0; i < connections_open_.size(); ++i) {
    connections_open_[i] =
        &r.AddGauge("volley_connections_open", "Open SMTP connections, by direction.",
                    {{"direction", std::string(kDirections[i])}});
  }
  for (size_t i = 0; i < 2; ++i) {
    connections_opened_[i] =
        &r.AddCounter("volley_connections_opened_total", "Outbound connection attempts, by result.",
                      {{"result", i == 0 ? "ok" : "failed"}});
  }
  for (int klass = 2; klass <= 5; ++klass) {
    smtp_replies_[static_cast<size_t>(klass - 2)] = &r.AddCounter(
        "volley_smtp_replies_total", "Replies received from remote servers, by class.",
        {{"class", absl::StrCat(klass, "xx")}});
  }
  for (size_t i = 0; i < 2; ++i) {
    tls_handshakes_[i] = &r.AddCounter("volley_tls_handshakes_total",
                                       "Outbound TLS handshakes (STARTTLS or implicit), by result.",
                                       {{"result", i == 0 ? "ok" : "failed"}});
  }
  delivery_latency_ = &r.AddHistogram(
      "volley_delivery_latency_seconds", "Time from reception to the remote server's acceptance.",
      {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400});
  spool_commit_ =
      &r.AddHistogram("volley_spool_commit_seconds", "Duration of spool commits.",
                      {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1});
  // Every commit is counted in volley_spool_commit_seconds_count; these are the failed ones.
  spool_commit_failures_ =
      &r.AddCounter("volley_spool_commit_failures_total",
                    "Spool commits that RocksDB refused (their injections got 452 4.3.1).");
  // Their ratio is the group commit's batching: messages per fsync.
  spool_synced_commits_ = &r.AddCounter("volley_spool_synced_commits_total",
                                        "Synced spool commits that stored new messages.");
  spool_synced_messages_ = &r.AddCounter("volley_spool_synced_messages_total",
                                         "New messages made durable by synced spool commits.");
  spool_bytes_ = &r.AddGauge("volley_spool_bytes", "Bytes of the spool's data files.");
  spool_free_bytes_ = &r.AddGauge("volley_spool_free_bytes",
                                  "Free bytes on the spool's file system (injection refuses below "
                                  "[server] spool_min_free).");
  spool_refusing_ = &r.AddGauge("volley_spool_refusing_injection",
                                "1 while injection answers 452 4.3.1: the spool's disk is below "
                                "spool_min_free or its writes fail.");
  for (absl::string_view reason : kInjectionRefusalReasons) {
    injection_refusals_.push_back(&r.AddCounter(
        "volley_injection_refusals_total",
        "Injection refused (or, backpressure_held, slowed down) to protect the engine, by reason.",
        {{"reason", std::string(reason)}}));
  }
  for (size_t i = 0; i < 2; ++i) {
    auth_attempts_[i] =
        &r.AddCounter("volley_auth_attempts_total", "SMTP AUTH credentials checked, by result.",
                      {{"result", i == 0 ? "success" : "failure"}});
  }
  inject_memory_bytes_ = &r.AddGauge(
      "volley_inject_memory_bytes",
      "Message content held in memory by injection sessions (at most [inject] max_memory).");
  suspended_domains_ =
      &r.AddGauge("volley_suspended_domains", "Recipient domains that an active suspension names.");
  suspensions_ = &r.AddGauge(
      "volley_suspensions", "Active suspensions (of domains, sites, sources, tenants, campaigns).");
  for (int i = 0; i < shards; ++i) loop_lags_.push_back(std::make_unique<LoopLag>());
}

void EngineMetrics::AddListener(absl::string_view name) {
  if (messages_received_.contains(name)) return;
  messages_received_[name] = &registry_.AddCounter(
      "volley_messages_received_total", "Messages accepted and made durable, by listener.",
      {{"listener", std::string(name)}});
}

Counter& EngineMetrics::messages_received(absl::string_view listener) {
  auto it = messages_received_.find(listener);
  if (it == messages_received_.end()) it = messages_received_.find("smtp");
  return *it->second;
}

void EngineMetrics::CountInjectionRefusal(int shard, absl::string_view reason) {
  size_t i = 0;
  while (i + 1 < injection_refusals_.size() && kInjectionRefusalReasons[i] != reason) ++i;
  injection_refusals_[i]->Add(shard);
}

EngineMetrics::WebhookSeries EngineMetrics::AddWebhook(absl::string_view name) {
  const Labels labels = {{"webhook", std::string(name)}};
  WebhookSeries series;
  series.backlog = &registry_.AddGauge(
      "volley_webhook_backlog", "Events waiting in a webhook's queue for its endpoint.", labels);
  series.sent = &registry_.AddCounter("volley_webhook_events_sent_total",
                                      "Events a webhook's endpoint accepted (2xx).", labels);
  series.failures = &registry_.AddCounter(
      "volley_webhook_failures_total",
      "Webhook requests that failed (no connection, a timeout, or an answer other than 2xx).",
      labels);
  return series;
}

void EngineMetrics::CountSpoolCommit(absl::Duration elapsed, int messages, bool ok) {
  spool_commit_->Observe(absl::ToDoubleSeconds(elapsed));
  const int slot = any_thread_slot();
  if (!ok) {
    spool_commit_failures_->Add(slot);
    return;
  }
  if (messages > 0) {
    spool_synced_commits_->Add(slot);
    spool_synced_messages_->Add(slot, static_cast<uint64_t>(messages));
  }
}

std::string EngineMetrics::Render(const ScrapeTotals& totals) {
  std::array<int64_t, static_cast<size_t>(QueueState::kCount)> queue = totals.queue;
  if (totals.spooled_recipients >= 0) {
    // Most scheduled recipients are not in memory at all: they are what the spool holds beyond
    // what is ready or in flight.
    const int64_t active = queue[static_cast<size_t>(QueueState::kReady)] +
                           queue[static_cast<size_t>(QueueState::kInFlight)];
    queue[static_cast<size_t>(QueueState::kScheduled)] =
        std::max<int64_t>(0, totals.spooled_recipients - active);
  }
  for (size_t i = 0; i < queue.size(); ++i) queue_size_[i]->Set(queue[i]);
  for (size_t i = 0; i < connections_open_.size(); ++i) {
    connections_open_[i]->Set(totals.connections[i]);
  }
  spool_bytes_->Set(static_cast<int64_t>(totals.spool_bytes));
  spool_free_bytes_->Set(static_cast<int64_t>(totals.spool_free_bytes));
  spool_refusing_->Set(totals.spool_refusing ? 1 : 0);
  suspended_domains_->Set(totals.suspended_domains);
  suspensions_->Set(totals.suspensions);
  std::string out;
  out.reserve(8192);
  registry_.Render(&out);
  AppendDns(totals, &out);
  AppendSiteSeries(totals.sites, site_metrics_limit_, &out);
  std::vector<LoopLag*> lags;
  for (const auto& lag : loop_lags_) lags.push_back(lag.get());
  AppendLoopLagSeries(lags, &out);
  // Without procfs the process series are left out (as client libraries do), not made up.
  if (absl::StatusOr<ProcessStats> process = ReadProcessStats(); process.ok()) {
    AppendProcessSeries(*process, &out);
  } else {
    LOG_EVERY_N_SEC(WARNING, 60) << "/metrics: no process series: " << process.status();
  }
  AppendBuildInfo(kVolleyVersion, &out);
  return out;
}

}  // namespace volley::metrics
