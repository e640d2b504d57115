// Closed-loop control of one egress path (an egress source toward a site): additive increase,
// multiplicative decrease, as TCP's congestion window, of the path's connection concurrency,
// within [adaptive_min_connections, the configured connection_limit]. The path's message rate
// follows the same fraction of its configured rate.
//
// - Increase: each transaction that succeeds while the path uses its whole window, with reply
//   latency flat, adds 1/window (one connection per window of successes), never above the
//   configured limit and not within kHoldAfterDecrease of a decrease.
// - Decrease: a congestion signal (a 421, a 4.7.x deferral, a connection the host refused while
//   others to it work, reply latency rising to kLatencyRise times its baseline) multiplies the
//   window by the decrease factor, at most once per kDecreaseHold (one episode, one cut).
// - Latency baseline: the smoothed transaction latency's minimum, which drifts up slowly while
//   latency stays higher, so that a site that is simply slower is not held down for ever.
#ifndef VOLLEY_ENGINE_ADAPTIVE_AIMD_H_
#define VOLLEY_ENGINE_ADAPTIVE_AIMD_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::adaptive {

// Not thread-safe: the site's shard. Time comes from the caller (a fake clock in tests).
class AimdController {
 public:
  static constexpr absl::Duration kDecreaseHold = absl::Seconds(2);
  static constexpr absl::Duration kHoldAfterDecrease = absl::Seconds(5);
  static constexpr double kLatencyRise = 2.0;
  // And by at least this much: below it, a rise is noise (a busy local sink, a slow disk) more
  // than a receiver asking us to slow down.
  static constexpr absl::Duration kMinLatencyRise = absl::Milliseconds(100);

  enum class Signal { kNone, kIncrease, kReply421, kDeferral, kRefused, kLatency };
  static absl::string_view SignalName(Signal signal);

  // The configured limit (the window's ceiling; the window starts there), the floor, and the
  // factor a decrease multiplies by (0 < factor < 1). Called again when they change: the window
  // stays, clamped into the new range.
  void Configure(int max_connections, int min_connections, double decrease_factor);

  // A transaction succeeded in `latency` while `in_use` connections of the path were open.
  // True when the limit (connection_limit()) changed.
  bool OnSuccess(absl::Duration latency, int in_use, absl::Time now);
  // A congestion signal, `detail` saying what (a reply, "connection refused"). True when the
  // limit changed.
  bool OnCongestion(Signal signal, absl::string_view detail, absl::Time now);

  int connection_limit() const;
  // The window over the configured limit, for the message rate (1 when at the limit).
  double fraction() const;
  bool at_limit() const { return window_ >= max_; }

  // The read-out (explain): what moved the limit last, when, and when it may grow again.
  Signal last_signal() const { return last_signal_; }
  const std::string& last_detail() const { return last_detail_; }
  absl::Time changed_at() const { return changed_at_; }
  absl::Time increase_after() const { return increase_after_; }
  absl::Duration latency() const { return ewma_; }
  absl::Duration latency_baseline() const { return baseline_; }

 private:
  bool LatencyRising() const;

  double window_ = 0;
  double max_ = 0;
  double min_ = 1;
  double factor_ = 0.5;
  absl::Duration ewma_ = absl::ZeroDuration();
  absl::Duration baseline_ = absl::InfiniteDuration();
  absl::Time decrease_hold_until_ = absl::InfinitePast();
  absl::Time increase_after_ = absl::InfinitePast();
  absl::Time changed_at_ = absl::InfinitePast();
  Signal last_signal_ = Signal::kNone;
  std::string last_detail_;
};

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_AIMD_H_
