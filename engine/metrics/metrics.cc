#include "engine/metrics/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace volley {
namespace {

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

Metrics::Metrics(int shards)
    : slots_(new ShardMetrics[static_cast<size_t>(shards)]),
      shards_(shards),
      delivery_latency_(
          {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400}),
      spool_commit_({0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::CountSpoolCommit(int messages, bool ok) {
  if (!ok) {
    spool_commit_failures_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (messages > 0) {
    spool_synced_commits_.fetch_add(1, std::memory_order_relaxed);
    spool_synced_messages_.fetch_add(static_cast<uint64_t>(messages), std::memory_order_relaxed);
  }
}

std::string Metrics::RenderPrometheus() const {
  auto sum = [&](auto field) {
    int64_t total = 0;
    for (int i = 0; i < shards_; ++i) total += static_cast<int64_t>(field(slots_[i]));
    return total;
  };
  std::string out;
  out.reserve(4096);

  Header(&out, "volley_messages_received_total", "counter",
         "Messages accepted and made durable, by listener.");
  absl::StrAppend(&out, "volley_messages_received_total{listener=\"smtp\"} ",
                  sum([](const ShardMetrics& m) {
                    return m.messages_received_smtp.load(std::memory_order_relaxed);
                  }),
                  "\n");

  Header(&out, "volley_deliveries_total", "counter", "Recipient outcomes, by outcome.");
  static constexpr const char* kOutcomes[] = {"delivered", "transient_failure", "bounced",
                                              "expired"};
  for (size_t o = 0; o < static_cast<size_t>(DeliveryOutcome::kCount); ++o) {
    absl::StrAppend(
        &out, "volley_deliveries_total{outcome=\"", kOutcomes[o], "\"} ",
        sum([o](const ShardMetrics& m) { return m.deliveries[o].load(std::memory_order_relaxed); }),
        "\n");
  }

  Header(&out, "volley_queue_size", "gauge", "Queued recipients, by state.");
  static constexpr const char* kStates[] = {"scheduled", "ready", "in_flight"};
  constexpr size_t kStateCount = static_cast<size_t>(QueueState::kCount);
  int64_t by_state[kStateCount];
  for (size_t st = 0; st < kStateCount; ++st) {
    by_state[st] = sum(
        [st](const ShardMetrics& m) { return m.queue_size[st].load(std::memory_order_relaxed); });
  }
  const int64_t queued = queued_recipients_.load(std::memory_order_relaxed);
  if (queued >= 0) {
    const int64_t active = by_state[static_cast<size_t>(QueueState::kReady)] +
                           by_state[static_cast<size_t>(QueueState::kInFlight)];
    by_state[static_cast<size_t>(QueueState::kScheduled)] = std::max<int64_t>(0, queued - active);
  }
  for (size_t st = 0; st < kStateCount; ++st) {
    absl::StrAppend(&out, "volley_queue_size{state=\"", kStates[st], "\"} ", by_state[st], "\n");
  }

  Header(&out, "volley_connections_open", "gauge", "Open SMTP connections, by direction.");
  static constexpr const char* kDirections[] = {"inbound", "outbound"};
  for (size_t d = 0; d < static_cast<size_t>(Direction::kCount); ++d) {
    absl::StrAppend(&out, "volley_connections_open{direction=\"", kDirections[d], "\"} ",
                    sum([d](const ShardMetrics& m) {
                      return m.connections_open[d].load(std::memory_order_relaxed);
                    }),
                    "\n");
  }

  Header(&out, "volley_connections_opened_total", "counter",
         "Outbound connection attempts, by result.");
  absl::StrAppend(&out, "volley_connections_opened_total{result=\"ok\"} ",
                  sum([](const ShardMetrics& m) {
                    return m.connections_opened_ok.load(std::memory_order_relaxed);
                  }),
                  "\n");
  absl::StrAppend(&out, "volley_connections_opened_total{result=\"failed\"} ",
                  sum([](const ShardMetrics& m) {
                    return m.connections_opened_failed.load(std::memory_order_relaxed);
                  }),
                  "\n");

  Header(&out, "volley_smtp_replies_total", "counter",
         "Replies received from remote servers, by class.");
  for (size_t c = 2; c <= 5; ++c) {
    absl::StrAppend(&out, "volley_smtp_replies_total{class=\"", c, "xx\"} ",
                    sum([c](const ShardMetrics& m) {
                      return m.smtp_replies[c].load(std::memory_order_relaxed);
                    }),
                    "\n");
  }

  Header(&out, "volley_tls_handshakes_total", "counter",
         "Outbound TLS handshakes (STARTTLS or implicit), by result.");
  absl::StrAppend(&out, "volley_tls_handshakes_total{result=\"ok\"} ",
                  sum([](const ShardMetrics& m) {
                    return m.tls_handshakes_ok.load(std::memory_order_relaxed);
                  }),
                  "\n");
  absl::StrAppend(&out, "volley_tls_handshakes_total{result=\"failed\"} ",
                  sum([](const ShardMetrics& m) {
                    return m.tls_handshakes_failed.load(std::memory_order_relaxed);
                  }),
                  "\n");

  delivery_latency_.Render("volley_delivery_latency_seconds",
                           "Time from reception to the remote server's acceptance.", &out);
  spool_commit_.Render("volley_spool_commit_seconds", "Duration of spool commits.", &out);

  // Every commit is counted in volley_spool_commit_seconds_count; these are the failed ones.
  Header(&out, "volley_spool_commit_failures_total", "counter",
         "Spool commits that RocksDB refused (their injections got 452 4.3.1).");
  absl::StrAppend(&out, "volley_spool_commit_failures_total ",
                  spool_commit_failures_.load(std::memory_order_relaxed), "\n");
  // Their ratio is the group commit's batching: messages per fsync.
  Header(&out, "volley_spool_synced_commits_total", "counter",
         "Synced spool commits that stored new messages.");
  absl::StrAppend(&out, "volley_spool_synced_commits_total ",
                  spool_synced_commits_.load(std::memory_order_relaxed), "\n");
  Header(&out, "volley_spool_synced_messages_total", "counter",
         "New messages made durable by synced spool commits.");
  absl::StrAppend(&out, "volley_spool_synced_messages_total ",
                  spool_synced_messages_.load(std::memory_order_relaxed), "\n");

  Header(&out, "volley_spool_bytes", "gauge", "Bytes of the spool's data files.");
  absl::StrAppend(&out, "volley_spool_bytes ", spool_bytes_.load(std::memory_order_relaxed), "\n");
  Header(&out, "volley_spool_free_bytes", "gauge",
         "Free bytes on the spool's file system (injection refuses below [server] "
         "spool_min_free).");
  absl::StrAppend(&out, "volley_spool_free_bytes ",
                  spool_free_bytes_.load(std::memory_order_relaxed), "\n");
  Header(&out, "volley_spool_refusing_injection", "gauge",
         "1 while injection answers 452 4.3.1: the spool's disk is below spool_min_free or "
         "its writes fail.");
  absl::StrAppend(&out, "volley_spool_refusing_injection ",
                  spool_refusing_.load(std::memory_order_relaxed), "\n");
  return out;
}

}  // namespace volley
