#include "engine/metrics/registry.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley::metrics {
namespace {

TEST(Registry, RendersFamiliesInOrderWithLabelsAndSumsShardSlots) {
  Registry registry(2);
  Counter& delivered = registry.AddCounter("x_total", "Things, by kind.", {{"kind", "delivered"}});
  Counter& bounced = registry.AddCounter("x_total", "Things, by kind.", {{"kind", "bounced"}});
  Gauge& queued = registry.AddGauge("x_queue", "Queued.");
  delivered.Add(0, 3);
  delivered.Add(1, 4);
  delivered.Add(registry.any_thread_slot());
  bounced.Add(1);
  queued.Set(-2);
  std::string out;
  registry.Render(&out);
  EXPECT_EQ(out,
            "# HELP x_total Things, by kind.\n# TYPE x_total counter\n"
            "x_total{kind=\"delivered\"} 8\nx_total{kind=\"bounced\"} 1\n"
            "# HELP x_queue Queued.\n# TYPE x_queue gauge\nx_queue -2\n");
}

TEST(Registry, HistogramsRenderTheirBuckets) {
  Registry registry(1);
  Histogram& h = registry.AddHistogram("y_seconds", "Durations.", {0.1, 1});
  h.Observe(0.05);
  h.Observe(5);
  std::string out;
  registry.Render(&out);
  EXPECT_TRUE(absl::StrContains(out, "# TYPE y_seconds histogram\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "y_seconds_bucket{le=\"0.1\"} 1\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "y_seconds_bucket{le=\"+Inf\"} 2\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "y_seconds_count 2\n")) << out;
}

TEST(Registry, LabelValuesAreEscaped) {
  EXPECT_EQ(SeriesName("m", {{"site", "a\"b\\c\nd"}, {"k", "v"}}),
            "m{site=\"a\\\"b\\\\c\\nd\",k=\"v\"}");
  EXPECT_EQ(SeriesName("m", {}), "m");
}

TEST(Counter, ConcurrentAddsFromEveryShardAreAllCounted) {
  Registry registry(4);
  Counter& counter = registry.AddCounter("z_total", "Z.");
  std::vector<std::thread> threads;
  for (int shard = 0; shard < 4; ++shard) {
    threads.emplace_back([&counter, shard] {
      for (int i = 0; i < 10000; ++i) counter.Add(shard);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter.Value(), 40000u);
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
  EXPECT_TRUE(absl::StrContains(out, "y_sum 20000.000000\n")) << out;
}

}  // namespace
}  // namespace volley::metrics
