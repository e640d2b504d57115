#include "engine/runtime/timer.h"

#include <cstdint>
#include <utility>

#include "engine/base/logging.h"

namespace volley {

struct Timer::Box {
  uv_timer_t handle;
  absl::AnyInvocable<void()> on_fire;
};

uint64_t ToLoopMillis(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  if (d == absl::InfiniteDuration()) return UINT64_MAX;
  return static_cast<uint64_t>(absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))));
}

Timer::Timer(uv_loop_t* loop, absl::AnyInvocable<void()> on_fire) : box_(new Box) {
  box_->on_fire = std::move(on_fire);
  box_->handle.data = box_;
  // uv_timer_init only initialises the handle's fields on Unix; it cannot fail.
  const int rc = uv_timer_init(loop, &box_->handle);
  CHECK(rc == 0) << "uv_timer_init: " << uv_strerror(rc);
}

Timer::~Timer() {
  uv_timer_stop(&box_->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&box_->handle),
           [](uv_handle_t* handle) { delete static_cast<Box*>(handle->data); });
}

void Timer::OnFire(uv_timer_t* handle) {
  // The box outlives this call even when the callback destroys the Timer: it is freed only in
  // the close callback, which runs on a later loop turn.
  static_cast<Box*>(handle->data)->on_fire();
}

void Timer::Start(absl::Duration delay) {
  // uv_timer_start fails only for a closing handle or a null callback, neither possible here.
  const int rc = uv_timer_start(&box_->handle, &OnFire, ToLoopMillis(delay), 0);
  CHECK(rc == 0) << "uv_timer_start: " << uv_strerror(rc);
}

void Timer::StartRepeating(absl::Duration period) {
  const uint64_t ms = std::max<uint64_t>(1, ToLoopMillis(period));
  const int rc = uv_timer_start(&box_->handle, &OnFire, ms, ms);
  CHECK(rc == 0) << "uv_timer_start: " << uv_strerror(rc);
}

void Timer::Stop() { uv_timer_stop(&box_->handle); }

bool Timer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&box_->handle)) != 0;
}

void Timer::Unref() { uv_unref(reinterpret_cast<uv_handle_t*>(&box_->handle)); }

}  // namespace volley
