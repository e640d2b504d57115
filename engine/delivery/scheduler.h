// The retries a shard holds in memory: recipients waiting for their due time, in a min-heap,
// with one timer armed for the earliest.
#ifndef VOLLEY_ENGINE_DELIVERY_SCHEDULER_H_
#define VOLLEY_ENGINE_DELIVERY_SCHEDULER_H_

#include <uv.h>

#include <cstdint>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "engine/base/thread_checker.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/runtime/timer.h"

namespace volley::delivery {

// Only retries due within the loader's horizon are held here; later ones live in the spool
// alone (queue/due_loader.h). Due times are read from the Clock, so a test with a
// SimulatedClock moves time and calls RunDue instead of waiting. All calls on the owning shard's
// loop.
class Scheduler {
 public:
  // Gets what came due, in due order (equal times in the order added).
  using DueFn = absl::AnyInvocable<void(std::vector<RecipientPtr> due)>;

  Scheduler(uv_loop_t* loop, Clock& clock, DueFn on_due);

  // Holds `recipient` until recipient->due. Its body is let go meanwhile.
  void Add(RecipientPtr recipient);
  // Hands over everything due by now. The timer calls it; tests may too.
  void RunDue();
  // Drops everything (at shutdown: it is all in the spool) and stops the timer.
  void Clear();

  size_t size() const { return heap_.size(); }
  // The earliest due time, or InfiniteFuture.
  absl::Time next_due() const;

 private:
  struct Entry {
    absl::Time due;
    uint64_t sequence;
    RecipientPtr recipient;
  };
  struct LaterFirst {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.due != b.due ? a.due > b.due : a.sequence > b.sequence;
    }
  };
  void Arm();

  Clock& clock_;
  ThreadChecker thread_;
  DueFn on_due_;
  std::vector<Entry> heap_;
  uint64_t sequence_ = 0;
  Timer timer_;
  absl::Time armed_for_ = absl::InfiniteFuture();
  bool cleared_ = false;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SCHEDULER_H_
