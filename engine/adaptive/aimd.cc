#include "engine/adaptive/aimd.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace volley::adaptive {
namespace {

// The smoothing of transaction latency (as TCP's SRTT, RFC 6298: 1/8).
constexpr double kEwmaWeight = 0.125;
// How fast the baseline follows a latency that stays above it, per sample.
constexpr double kBaselineDrift = 0.01;

}  // namespace

absl::string_view AimdController::SignalName(Signal signal) {
  switch (signal) {
    case Signal::kNone:
      return "none";
    case Signal::kIncrease:
      return "success";
    case Signal::kReply421:
      return "421";
    case Signal::kDeferral:
      return "4.7.x deferral";
    case Signal::kRefused:
      return "connection refused";
    case Signal::kLatency:
      return "latency rising";
  }
  return "";
}

void AimdController::Configure(int max_connections, int min_connections, double decrease_factor) {
  const double max = std::max(1, max_connections);
  const bool first = max_ == 0;
  max_ = max;
  min_ = std::clamp<double>(min_connections, 1, max);
  factor_ = std::clamp(decrease_factor, 0.01, 0.99);
  window_ = first ? max_ : std::clamp(window_, min_, max_);
}

bool AimdController::LatencyRising() const {
  return baseline_ != absl::InfiniteDuration() && ewma_ > baseline_ * kLatencyRise &&
         ewma_ - baseline_ > kMinLatencyRise;
}

bool AimdController::OnSuccess(absl::Duration latency, int in_use, absl::Time now) {
  ewma_ = ewma_ == absl::ZeroDuration() ? latency : ewma_ + (latency - ewma_) * kEwmaWeight;
  if (ewma_ < baseline_) {
    baseline_ = ewma_;
  } else {
    baseline_ += (ewma_ - baseline_) * kBaselineDrift;
  }
  if (LatencyRising()) {
    return OnCongestion(
        Signal::kLatency,
        absl::StrCat("latency ", absl::FormatDuration(absl::Trunc(ewma_, absl::Milliseconds(1))),
                     ", baseline ",
                     absl::FormatDuration(absl::Trunc(baseline_, absl::Milliseconds(1)))),
        now);
  }
  // Growth only while the path uses what it has: a window nobody fills says nothing.
  if (window_ >= max_ || now < increase_after_ || in_use < connection_limit()) return false;
  const int before = connection_limit();
  window_ = std::min(max_, window_ + 1.0 / window_);
  if (connection_limit() == before) return false;
  changed_at_ = now;
  last_signal_ = Signal::kIncrease;
  last_detail_ = "transactions succeed with latency flat";
  return true;
}

bool AimdController::OnCongestion(Signal signal, absl::string_view detail, absl::Time now) {
  if (now < decrease_hold_until_) return false;
  decrease_hold_until_ = now + kDecreaseHold;
  increase_after_ = now + kHoldAfterDecrease;
  const int before = connection_limit();
  window_ = std::max(min_, window_ * factor_);
  last_signal_ = signal;
  last_detail_ = std::string(detail);
  changed_at_ = now;
  return connection_limit() != before;
}

int AimdController::connection_limit() const {
  return static_cast<int>(std::floor(window_ + 1e-9));
}

double AimdController::fraction() const { return max_ > 0 ? window_ / max_ : 1.0; }

}  // namespace volley::adaptive
