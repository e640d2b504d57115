// Event-loop lag per shard (volley_loop_lag_seconds{shard}): how late a repeating timer on the
// shard's loop fires. A loop that runs a long callback, or waits for the CPU, fires it late; the
// delivery and injection it owns are late by as much.
#ifndef VOLLEY_ENGINE_METRICS_LOOP_LAG_H_
#define VOLLEY_ENGINE_METRICS_LOOP_LAG_H_

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/runtime/timer.h"

namespace volley::metrics {

// What one shard's probe measured. Record on the probe's loop thread; the reads on any thread.
class LoopLag {
 public:
  void Record(absl::Duration lag);
  // The latest measurement.
  absl::Duration latest() const;
  // The largest measurement since the previous TakeMax, which it resets.
  absl::Duration TakeMax();

 private:
  std::atomic<int64_t> latest_ns_{0};
  std::atomic<int64_t> max_ns_{0};
};

// volley_loop_lag_seconds{shard} and volley_loop_lag_max_seconds{shard}, shard i from lags[i]
// (taking its maximum).
void AppendLoopLagSeries(const std::vector<LoopLag*>& lags, std::string* out);

// A repeating timer on one loop that records, each time it fires, how much later than its
// period it fires after the previous time, into a LoopLag that outlives it.
//
// Made, used and destroyed on the loop's thread.
class LoopLagProbe {
 public:
  static constexpr absl::Duration kPeriod = absl::Milliseconds(250);

  LoopLagProbe(uv_loop_t* loop, LoopLag* lag, absl::Duration period = kPeriod);
  ~LoopLagProbe() = default;  // the Timer closes its handle
  LoopLagProbe(const LoopLagProbe&) = delete;
  LoopLagProbe& operator=(const LoopLagProbe&) = delete;

 private:
  void OnFire();

  LoopLag* const lag_;
  const uint64_t period_ns_;
  uint64_t last_fire_ns_;  // uv_hrtime() when started or last fired
  Timer timer_;
};

}  // namespace volley::metrics

#endif  // VOLLEY_ENGINE_METRICS_LOOP_LAG_H_
