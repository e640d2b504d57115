#include "engine/runtime/deferred_calls.h"

#include <utility>

namespace volley {

DeferredCalls::DeferredCalls(uv_loop_t* loop) : loop_(loop), timer_(loop, [this] { RunDue(); }) {}

void DeferredCalls::RunAfter(absl::Duration delay, absl::AnyInvocable<void()> call) {
  const uint64_t wait = delay > absl::ZeroDuration() ? ToLoopMillis(delay) : 0;
  calls_.push(Call{uv_now(loop_) + wait, next_sequence_++, std::move(call)});
  Arm();
}

void DeferredCalls::RunDue() {
  armed_for_ms_ = 0;
  const uint64_t now = uv_now(loop_);
  // Calls added by the calls run here wait for the next turn: one loop turn never runs forever.
  const uint64_t last = next_sequence_;
  while (!calls_.empty() && calls_.top().due_ms <= now && calls_.top().sequence < last) {
    absl::AnyInvocable<void()> run = std::move(calls_.top().run);
    calls_.pop();
    run();
  }
  Arm();
}

void DeferredCalls::Arm() {
  if (calls_.empty()) {
    timer_.Stop();
    armed_for_ms_ = 0;
    return;
  }
  const uint64_t due = calls_.top().due_ms;
  if (armed_for_ms_ != 0 && armed_for_ms_ <= due) return;
  armed_for_ms_ = due;
  const uint64_t now = uv_now(loop_);
  timer_.Start(absl::Milliseconds(due > now ? static_cast<int64_t>(due - now) : 0));
}

}  // namespace volley
