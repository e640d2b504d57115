#include "engine/metrics/loop_lag.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/metrics/registry.h"

namespace volley::metrics {

void LoopLag::Record(absl::Duration lag) {
  const int64_t ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(lag));
  latest_ns_.store(ns, std::memory_order_relaxed);
  // A scrape may reset it (TakeMax) between the load and the exchange; the exchange then fails
  // and compares again with the new value.
  int64_t max = max_ns_.load(std::memory_order_relaxed);
  while (ns > max && !max_ns_.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
  }
}

absl::Duration LoopLag::latest() const {
  return absl::Nanoseconds(latest_ns_.load(std::memory_order_relaxed));
}

absl::Duration LoopLag::TakeMax() {
  return absl::Nanoseconds(max_ns_.exchange(0, std::memory_order_relaxed));
}

void AppendLoopLagSeries(const std::vector<LoopLag*>& lags, std::string* out) {
  auto seconds = [](absl::Duration d) { return absl::StrFormat("%.6f", absl::ToDoubleSeconds(d)); };
  absl::StrAppend(out,
                  "# HELP volley_loop_lag_seconds How late the shard's event loop ran its latest "
                  "probe timer (every 250 ms).\n# TYPE volley_loop_lag_seconds gauge\n");
  for (size_t i = 0; i < lags.size(); ++i) {
    absl::StrAppend(out, SeriesName("volley_loop_lag_seconds", {{"shard", absl::StrCat(i)}}), " ",
                    seconds(lags[i]->latest()), "\n");
  }
  absl::StrAppend(out,
                  "# HELP volley_loop_lag_max_seconds The largest loop lag of the shard since the "
                  "previous scrape.\n# TYPE volley_loop_lag_max_seconds gauge\n");
  for (size_t i = 0; i < lags.size(); ++i) {
    absl::StrAppend(out, SeriesName("volley_loop_lag_max_seconds", {{"shard", absl::StrCat(i)}}),
                    " ", seconds(lags[i]->TakeMax()), "\n");
  }
}

LoopLagProbe::LoopLagProbe(uv_loop_t* loop, LoopLag* lag, absl::Duration period)
    : lag_(lag),
      period_ns_(ToLoopMillis(period) * 1000000),
      last_fire_ns_(uv_hrtime()),
      timer_(loop, [this] { OnFire(); }) {
  // libuv arms a timer from the loop's cached time, which is stale before the loop first runs.
  uv_update_time(loop);
  timer_.StartRepeating(period);
  // Housekeeping: the probe alone must not keep the loop from ending.
  timer_.Unref();
}

void LoopLagProbe::OnFire() {
  // As Node's monitorEventLoopDelay measures it: the time since the previous firing less the
  // period. libuv re-arms a repeating timer from the time its loop turn began, so a turn that
  // was late delays the next one by no more than its own lateness.
  const uint64_t now = uv_hrtime();
  const uint64_t elapsed = now - last_fire_ns_;
  last_fire_ns_ = now;
  lag_->Record(absl::Nanoseconds(elapsed > period_ns_ ? elapsed - period_ns_ : 0));
}

}  // namespace volley::metrics
