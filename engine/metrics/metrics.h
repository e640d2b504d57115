// Process metrics in Prometheus form. Each shard updates its own cache-line-aligned slot with
// relaxed atomics (no sharing on the hot path); a scrape sums the slots.
#ifndef VOLLEY_ENGINE_METRICS_METRICS_H_
#define VOLLEY_ENGINE_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/base/histogram.h"

namespace volley {

enum class DeliveryOutcome { kDelivered = 0, kTransientFailure, kBounced, kExpired, kCount };
enum class QueueState { kScheduled = 0, kReady, kInFlight, kCount };
enum class Direction { kInbound = 0, kOutbound, kCount };

struct alignas(64) ShardMetrics {
  std::atomic<uint64_t> messages_received_smtp{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(DeliveryOutcome::kCount)> deliveries{};
  std::array<std::atomic<int64_t>, static_cast<size_t>(QueueState::kCount)> queue_size{};
  std::array<std::atomic<int64_t>, static_cast<size_t>(Direction::kCount)> connections_open{};
  std::atomic<uint64_t> connections_opened_ok{0};
  std::atomic<uint64_t> connections_opened_failed{0};
  std::array<std::atomic<uint64_t>, 6> smtp_replies{};  // by first digit 0..5 (0: none)
  std::atomic<uint64_t> tls_handshakes_ok{0};
  std::atomic<uint64_t> tls_handshakes_failed{0};

  void Add(DeliveryOutcome o) {
    deliveries[static_cast<size_t>(o)].fetch_add(1, std::memory_order_relaxed);
  }
  void AddQueue(QueueState s, int64_t delta) {
    queue_size[static_cast<size_t>(s)].fetch_add(delta, std::memory_order_relaxed);
  }
  void AddConnection(Direction d, int64_t delta) {
    connections_open[static_cast<size_t>(d)].fetch_add(delta, std::memory_order_relaxed);
  }
};

class Metrics {
 public:
  explicit Metrics(int shards);

  ShardMetrics& shard(int index) { return slots_[static_cast<size_t>(index)]; }

  // Histograms shared by every thread.
  Histogram& delivery_latency() { return delivery_latency_; }
  Histogram& spool_commit() { return spool_commit_; }
  // Called by the spool writer after every commit: `messages` new messages were made durable
  // by it (such a commit is synced), `ok` whether RocksDB took it.
  void CountSpoolCommit(int messages, bool ok);

  // Gauges read at scrape time.
  std::atomic<uint64_t>& spool_bytes() { return spool_bytes_; }
  std::atomic<uint64_t>& spool_free_bytes() { return spool_free_bytes_; }
  // 1 while injection is refused because the spool's disk is low (or writes fail).
  std::atomic<int>& spool_refusing() { return spool_refusing_; }
  // Recipients in the spool, all states; -1 when unknown. volley_queue_size{state="scheduled"}
  // is what of them is neither ready nor in flight (most scheduled recipients are not in
  // memory at all).
  std::atomic<int64_t>& queued_recipients() { return queued_recipients_; }

  std::string RenderPrometheus() const;

 private:
  std::unique_ptr<ShardMetrics[]> slots_;
  int shards_;
  Histogram delivery_latency_;
  Histogram spool_commit_;
  std::atomic<uint64_t> spool_bytes_{0};
  std::atomic<uint64_t> spool_free_bytes_{0};
  std::atomic<int> spool_refusing_{0};
  std::atomic<int64_t> queued_recipients_{-1};
  std::atomic<uint64_t> spool_commit_failures_{0};
  std::atomic<uint64_t> spool_synced_commits_{0};
  std::atomic<uint64_t> spool_synced_messages_{0};
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_METRICS_METRICS_H_
