// The recipients of one site that are due now, in the order the site's connections take them:
// higher priority first, always; within one priority the tenants take turns, one transaction
// (one message) each, so that a tenant's newsletter of a million recipients does not hold back
// another tenant's password reset to the same site. Within one tenant and priority, arrival
// order.
//
// The recipients of one message arrive together and stay together (one lane per tenant and
// priority), so a transaction takes them from the front of one lane.
#ifndef VOLLEY_ENGINE_DELIVERY_READY_QUEUE_H_
#define VOLLEY_ENGINE_DELIVERY_READY_QUEUE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/delivery/queued_recipient.h"

namespace volley::delivery {

// Not thread-safe: the site's shard.
class ReadyQueue {
 public:
  ReadyQueue();
  ~ReadyQueue();

  // At the back of its lane. `*lane_size` (when given) gets the lane's size before the push.
  void Push(RecipientPtr recipient, size_t* lane_size = nullptr);
  // At the front of its lane, and the lane is served next at its priority (recipients a
  // server would not take in the last transaction lead the next one).
  void PushFront(RecipientPtr recipient);

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  // The recipient the next transaction starts with, or null. The caller may move it out (an
  // expired recipient), then PopFront().
  RecipientPtr* Front();
  // Removes Front() (returned, unless moved out already).
  RecipientPtr PopFront();
  // The next transaction: the front message's recipients, up to `max`, from the lane served
  // next; that lane's tenant then waits for the others of its priority to have a turn.
  std::vector<RecipientPtr> TakeTransaction(int max);

  // Calls `fn` on every recipient of the next `messages` messages, in the order they would be
  // served (the lanes of the highest priority take turns, one message each).
  void ForEachUpcoming(size_t messages, const std::function<void(QueuedRecipient&)>& fn);
  // The transactions the queue makes (a message's recipients, `batch_size` at a time), counted
  // up to `cap`.
  size_t CountTransactions(size_t cap, int batch_size) const;
  // Keeps the recipients for which `keep` returns true; `keep` may move the others out.
  void Filter(const std::function<bool(RecipientPtr&)>& keep);
  // Calls `fn` on every recipient, in no particular order (a scrape's counts).
  void ForEach(const std::function<void(const QueuedRecipient&)>& fn) const;
  // Everything, in service order per lane; the queue is left empty.
  std::vector<RecipientPtr> TakeAll();

 private:
  struct Lane {
    std::string tenant;
    std::deque<RecipientPtr> recipients;
  };
  // One priority: its lanes by tenant, and the turn order of those that have recipients.
  struct Level {
    absl::flat_hash_map<std::string, std::unique_ptr<Lane>> lanes;
    std::deque<Lane*> turn;  // front: served next
  };

  Lane& LaneFor(const QueuedRecipient& recipient, bool* created);
  // The lane served next, or null; drops emptied lanes and levels on the way.
  Lane* Next();
  void DropIfEmpty(std::map<int, Level>::iterator level, Lane* lane);

  std::map<int, Level, std::greater<int>> levels_;  // highest priority first
  size_t size_ = 0;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_READY_QUEUE_H_
