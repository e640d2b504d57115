#include "engine/metrics/loop_lag.h"

#include <uv.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "engine/runtime/timer.h"
#include "gtest/gtest.h"

namespace volley::metrics {
namespace {

TEST(LoopLag, KeepsTheLatestAndTheLargestUntilTaken) {
  LoopLag lag;
  lag.Record(absl::Milliseconds(30));
  lag.Record(absl::Milliseconds(5));
  lag.Record(absl::Milliseconds(-1));  // a timer never fires early; clock noise counts as 0
  EXPECT_EQ(lag.latest(), absl::ZeroDuration());
  EXPECT_EQ(lag.TakeMax(), absl::Milliseconds(30));
  EXPECT_EQ(lag.TakeMax(), absl::ZeroDuration());
}

TEST(LoopLag, RendersOneSeriesPerShard) {
  LoopLag a, b;
  a.Record(absl::Microseconds(1500));
  b.Record(absl::Milliseconds(2));
  b.Record(absl::Milliseconds(1));
  std::string out;
  AppendLoopLagSeries({&a, &b}, &out);
  EXPECT_TRUE(absl::StrContains(out, "# TYPE volley_loop_lag_seconds gauge\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "volley_loop_lag_seconds{shard=\"0\"} 0.001500\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "volley_loop_lag_seconds{shard=\"1\"} 0.001000\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "volley_loop_lag_max_seconds{shard=\"1\"} 0.002000\n")) << out;
}

// A callback that holds the loop for 200 ms makes the probe (every 20 ms) fire that much late;
// the firings after it are on time again.
TEST(LoopLagProbe, MeasuresHowLongTheLoopWasHeld) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  LoopLag lag;
  auto probe = std::make_unique<LoopLagProbe>(&loop, &lag, absl::Milliseconds(20));
  auto hold = std::make_unique<Timer>(&loop, [] { absl::SleepFor(absl::Milliseconds(200)); });
  hold->Start(absl::Milliseconds(50));
  auto end = std::make_unique<Timer>(&loop, [&probe] { probe.reset(); });
  end->Start(absl::Milliseconds(450));
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(probe, nullptr);

  const absl::Duration max = lag.TakeMax();
  EXPECT_GE(max, absl::Milliseconds(150));
  EXPECT_LT(max, absl::Milliseconds(400));
  EXPECT_LT(lag.latest(), absl::Milliseconds(100));

  hold.reset();
  end.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

// The probe's timer alone does not keep a loop running.
TEST(LoopLagProbe, DoesNotKeepTheLoopAlive) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  LoopLag lag;
  auto probe = std::make_unique<LoopLagProbe>(&loop, &lag);
  uv_run(&loop, UV_RUN_DEFAULT);  // returns at once
  probe.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace volley::metrics
