// Time sources. Code that schedules (backoff, expiry, timers) takes a Clock& so that tests can
// move time by hand instead of sleeping.
#ifndef VOLLEY_ENGINE_BASE_CLOCK_H_
#define VOLLEY_ENGINE_BASE_CLOCK_H_

#include <atomic>

#include "absl/time/time.h"

namespace volley {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide wall clock.
  static Clock& Real();
};

// A clock that moves only when told. Thread-safe.
class SimulatedClock : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24 * 365 * 50))
      : now_ns_(absl::ToUnixNanos(start)) {}

  absl::Time Now() const override {
    return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
  }
  void Advance(absl::Duration d) {
    now_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  }
  void Set(absl::Time t) { now_ns_.store(absl::ToUnixNanos(t), std::memory_order_release); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_CLOCK_H_
