#include "engine/delivery/scheduler.h"

#include <algorithm>
#include <utility>

#include "engine/base/logging.h"

namespace volley::delivery {

Scheduler::Scheduler(uv_loop_t* loop, Clock& clock, DueFn on_due)
    : clock_(clock), on_due_(std::move(on_due)), timer_(loop, [this] { RunDue(); }) {}

void Scheduler::Add(RecipientPtr recipient) {
  DCHECK(thread_.InLoopThread());
  // A recipient waiting for a retry does not need its body in memory meanwhile.
  recipient->body.reset();
  const absl::Time due = recipient->due;
  heap_.push_back(Entry{due, sequence_++, std::move(recipient)});
  std::push_heap(heap_.begin(), heap_.end(), LaterFirst());
  if (due < armed_for_) Arm();
}

absl::Time Scheduler::next_due() const {
  return heap_.empty() ? absl::InfiniteFuture() : heap_.front().due;
}

void Scheduler::RunDue() {
  DCHECK(thread_.InLoopThread());
  armed_for_ = absl::InfiniteFuture();
  const absl::Time now = clock_.Now();
  std::vector<RecipientPtr> due;
  while (!heap_.empty() && heap_.front().due <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), LaterFirst());
    due.push_back(std::move(heap_.back().recipient));
    heap_.pop_back();
  }
  if (!due.empty()) on_due_(std::move(due));
  Arm();
}

void Scheduler::Arm() {
  if (cleared_) return;  // after Clear the timer stays off
  if (heap_.empty()) {
    timer_.Stop();
    armed_for_ = absl::InfiniteFuture();
    return;
  }
  armed_for_ = heap_.front().due;
  // One millisecond more, so that the timer never fires just before the due time.
  timer_.Start(armed_for_ - clock_.Now() + absl::Milliseconds(1));
}

void Scheduler::Clear() {
  DCHECK(thread_.InLoopThread());
  cleared_ = true;
  heap_.clear();
  timer_.Stop();
  armed_for_ = absl::InfiniteFuture();
}

}  // namespace volley::delivery
