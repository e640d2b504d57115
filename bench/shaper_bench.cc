// Micro benchmarks for shaping::Shaper, asked before every connection and every message: what
// one admission costs on a shard, with no limits, with rates, and with shared budgets whose
// owner is the asking shard. `bazel run -c opt //bench:shaper_bench`.
#include <uv.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "engine/base/clock.h"
#include "engine/config/config.h"
#include "engine/shaping/shaper.h"
#include "engine/shaping/shared_limits.h"

namespace volley::shaping {
namespace {

config::ShapingConfig Limits(bool rates) {
  config::ShapingConfig limits;
  limits.connection_limit = 1 << 30;
  if (rates) {
    // Far from binding: every call goes, and every call runs the throttle.
    limits.max_message_rate = config::Rate{1'000'000'000, absl::Seconds(1), 1'000'000'000};
    limits.max_connection_rate = config::Rate{1'000'000'000, absl::Seconds(1), 1'000'000'000};
  } else {
    limits.max_message_rate.reset();
    limits.max_connection_rate.reset();
  }
  return limits;
}

// The clock a shard reads once per admission, moved on by a microsecond per call.
absl::Time Tick(absl::Time& now) { return now += absl::Microseconds(1); }

void BM_AdmitMessage(benchmark::State& state) {
  const bool rates = state.range(0) != 0;
  std::vector<config::ShapingConfig> limits = {Limits(rates)};
  Shaper shaper;
  shaper.set_limits(&limits);
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  for (auto _ : state) benchmark::DoNotOptimize(shaper.AdmitMessage(0, Tick(now)).go());
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(rates ? "max_message_rate set" : "no rate");
}
BENCHMARK(BM_AdmitMessage)->Arg(0)->Arg(1);

void BM_AdmitConnectionAndClose(benchmark::State& state) {
  std::vector<config::ShapingConfig> limits(state.range(0), Limits(true));
  Shaper shaper;
  shaper.set_limits(&limits);
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  int source = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(shaper.AdmitConnection(Tick(now), &source).go());
    shaper.ConnectionClosed(source);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(absl::StrCat(state.range(0), " egress sources"));
}
BENCHMARK(BM_AdmitConnectionAndClose)->Arg(1)->Arg(4);

// A provider's shared message rate and connection limit, owned by this (the only) shard.
void BM_AdmitWithSharedBudgets(benchmark::State& state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  SimulatedClock clock;
  {
    SharedLimits shared(&loop, 0, 1, &clock,
                        [](int, absl::AnyInvocable<void(SharedLimits&) &&>) {});
    std::vector<config::ShapingConfig> limits = {Limits(true)};
    config::SharedLimitSpec rate;
    rate.kind = config::SharedLimitSpec::Kind::kMessageRate;
    rate.name = "provider:p max_message_rate";
    rate.rate = config::Rate{1'000'000'000, absl::Seconds(1), 1'000'000'000};
    config::SharedLimitSpec slots;
    slots.kind = config::SharedLimitSpec::Kind::kConnections;
    slots.name = "provider:p connection_limit";
    slots.connections = 1 << 30;
    limits[0].shared_limits = {slots, rate};
    Shaper shaper;
    shaper.Bind(&shared, [] {});
    shaper.set_limits(&limits);
    absl::Time now = absl::FromUnixSeconds(1'000'000);
    int source = 0;
    const bool connections = state.range(0) != 0;
    for (auto _ : state) {
      if (connections) {
        benchmark::DoNotOptimize(shaper.AdmitConnection(Tick(now), &source).go());
        shaper.ConnectionClosed(source);
      } else {
        benchmark::DoNotOptimize(shaper.AdmitMessage(0, Tick(now)).go());
      }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(connections ? "connection + shared slot" : "message + shared rate");
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
}
BENCHMARK(BM_AdmitWithSharedBudgets)->Arg(0)->Arg(1);

}  // namespace
}  // namespace volley::shaping
