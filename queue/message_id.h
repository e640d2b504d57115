// Queue ids: unique 64-bit numbers that sort by arrival. An id is the arrival time in
// microseconds since the epoch, bumped past the last id given out, so ids stay unique across
// threads and, as long as the clock does not go back by more than the downtime, across
// restarts; the generator also starts above the largest id found in the spool.
#ifndef VOLLEY_QUEUE_MESSAGE_ID_H_
#define VOLLEY_QUEUE_MESSAGE_ID_H_

#include <atomic>

#include "engine/base/clock.h"
#include "queue/spool.h"

namespace volley::queue {

class MessageIdGenerator {
 public:
  explicit MessageIdGenerator(Clock& clock, MessageId floor = 0) : clock_(clock), last_(floor) {}

  // Thread-safe.
  MessageId Next() {
    const MessageId now = static_cast<MessageId>(absl::ToUnixMicros(clock_.Now()));
    MessageId last = last_.load(std::memory_order_relaxed);
    while (true) {
      const MessageId next = now > last ? now : last + 1;
      if (last_.compare_exchange_weak(last, next, std::memory_order_relaxed)) return next;
    }
  }

  // Ids after this call are above `floor`.
  void RaiseFloor(MessageId floor) {
    MessageId last = last_.load(std::memory_order_relaxed);
    while (last < floor && !last_.compare_exchange_weak(last, floor, std::memory_order_relaxed)) {
    }
  }

 private:
  Clock& clock_;
  std::atomic<MessageId> last_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_MESSAGE_ID_H_
