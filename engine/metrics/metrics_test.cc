#include "engine/metrics/metrics.h"

#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(Metrics, SumsShardsIntoPrometheusText) {
  Metrics metrics(2);
  metrics.shard(0).messages_received_smtp += 3;
  metrics.shard(1).messages_received_smtp += 4;
  metrics.shard(0).Add(DeliveryOutcome::kDelivered);
  metrics.shard(1).Add(DeliveryOutcome::kDelivered);
  metrics.shard(1).Add(DeliveryOutcome::kBounced);
  metrics.shard(0).AddQueue(QueueState::kReady, 5);
  metrics.shard(1).AddQueue(QueueState::kReady, -2);
  metrics.shard(1).AddConnection(Direction::kOutbound, 1);
  metrics.CountSpoolCommit(5, true);
  metrics.CountSpoolCommit(0, true);   // removals only
  metrics.CountSpoolCommit(3, false);  // failed: stored nothing
  metrics.CountSpoolCommit(2, true);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_TRUE(absl::StrContains(text, "volley_spool_commit_failures_total 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_spool_synced_commits_total 2\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_spool_synced_messages_total 7\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_messages_received_total{listener=\"smtp\"} 7\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_deliveries_total{outcome=\"delivered\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_deliveries_total{outcome=\"bounced\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_deliveries_total{outcome=\"expired\"} 0\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_queue_size{state=\"ready\"} 3\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_connections_open{direction=\"outbound\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE volley_deliveries_total counter\n"));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE volley_queue_size gauge\n"));
}

TEST(Histogram, CumulativeBucketsSumAndCount) {
  Histogram h({0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.5);
  h.Observe(7);
  std::string out;
  h.Render("x_seconds", "help", &out);
  EXPECT_TRUE(absl::StrContains(out, "x_seconds_bucket{le=\"0.1\"} 1\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "x_seconds_bucket{le=\"1\"} 3\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "x_seconds_bucket{le=\"+Inf\"} 4\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "x_seconds_sum 8.050000\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "x_seconds_count 4\n")) << out;
}

TEST(Histogram, ConcurrentObservationsAreAllCounted) {
  Histogram h({1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) h.Observe(0.5);
    });
  }
  for (auto& t : threads) t.join();
  std::string out;
  h.Render("y", "help", &out);
  EXPECT_TRUE(absl::StrContains(out, "y_count 40000\n")) << out;
}

}  // namespace
}  // namespace volley
