// Calls to run later on one loop, each after its own delay, on one timer: a reply held back by
// injection backpressure, an AUTH answer slowed after failures. A Timer per call would cost a
// libuv handle each; a session holds at most one call at a time, but thousands may wait at once.
#ifndef VOLLEY_ENGINE_RUNTIME_DEFERRED_CALLS_H_
#define VOLLEY_ENGINE_RUNTIME_DEFERRED_CALLS_H_

#include <uv.h>

#include <cstdint>
#include <queue>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "engine/runtime/timer.h"

namespace volley {

// All calls, and the calls it runs, on the loop's thread. Destroying it drops the calls not
// yet run (without running them).
class DeferredCalls {
 public:
  explicit DeferredCalls(uv_loop_t* loop);
  DeferredCalls(const DeferredCalls&) = delete;
  DeferredCalls& operator=(const DeferredCalls&) = delete;

  // Runs `call` once `delay` has passed (zero or less: on the next loop turn), after the calls
  // due before it; calls due at the same millisecond run in the order they were added.
  void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> call);

  size_t pending() const { return calls_.size(); }

 private:
  struct Call {
    uint64_t due_ms;
    uint64_t sequence;
    // Mutable so that it can be moved out of the priority queue's const top().
    mutable absl::AnyInvocable<void()> run;
  };
  struct Later {
    bool operator()(const Call& a, const Call& b) const {
      return a.due_ms != b.due_ms ? a.due_ms > b.due_ms : a.sequence > b.sequence;
    }
  };

  void RunDue();
  void Arm();

  uv_loop_t* const loop_;
  std::priority_queue<Call, std::vector<Call>, Later> calls_;
  uint64_t next_sequence_ = 0;
  uint64_t armed_for_ms_ = 0;  // the due time the timer is set for (0: not armed)
  Timer timer_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_RUNTIME_DEFERRED_CALLS_H_
