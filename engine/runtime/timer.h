// A libuv timer owned by one object on a loop.
#ifndef VOLLEY_ENGINE_RUNTIME_TIMER_H_
#define VOLLEY_ENGINE_RUNTIME_TIMER_H_

#include <uv.h>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace volley {

// The handle and the callback live on the heap and are freed in the handle's close callback,
// so a Timer may be destroyed at any time, also from inside its own callback. The callback is
// fixed at construction; Start re-arms it.
//
// All calls and the callback on the loop's thread.
class Timer {
 public:
  Timer(uv_loop_t* loop, absl::AnyInvocable<void()> on_fire);
  ~Timer();  // stops the timer and closes its handle
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Fires once after `delay` (rounded up to whole milliseconds; zero or less: on the next loop
  // turn). Replaces an earlier Start.
  void Start(absl::Duration delay);
  // Fires every `period` (at least 1 ms).
  void StartRepeating(absl::Duration period);
  void Stop();
  bool active() const;
  // The timer alone does not keep the loop running (for housekeeping timers).
  void Unref();

 private:
  struct Box;
  static void OnFire(uv_timer_t* handle);
  Box* box_;
};

// Whole milliseconds for libuv, rounded up so that a timer never fires early.
uint64_t ToLoopMillis(absl::Duration d);

}  // namespace volley

#endif  // VOLLEY_ENGINE_RUNTIME_TIMER_H_
