#include "engine/delivery/ready_queue.h"

#include <algorithm>
#include <utility>

namespace volley::delivery {

ReadyQueue::ReadyQueue() = default;
ReadyQueue::~ReadyQueue() = default;

ReadyQueue::Lane& ReadyQueue::LaneFor(const QueuedRecipient& recipient, bool* created) {
  Level& level = levels_[recipient.message->priority];
  std::unique_ptr<Lane>& lane = level.lanes[recipient.message->tenant];
  *created = lane == nullptr;
  if (lane == nullptr) {
    lane = std::make_unique<Lane>();
    lane->tenant = recipient.message->tenant;
    level.turn.push_back(lane.get());
  }
  return *lane;
}

void ReadyQueue::Push(RecipientPtr recipient, size_t* lane_size) {
  bool created = false;
  Lane& lane = LaneFor(*recipient, &created);
  if (lane_size != nullptr) *lane_size = lane.recipients.size();
  lane.recipients.push_back(std::move(recipient));
  ++size_;
}

void ReadyQueue::PushFront(RecipientPtr recipient) {
  Level& level = levels_[recipient->message->priority];
  bool created = false;
  Lane& lane = LaneFor(*recipient, &created);
  lane.recipients.push_front(std::move(recipient));
  ++size_;
  // Its turn comes next.
  auto it = std::find(level.turn.begin(), level.turn.end(), &lane);
  if (it != level.turn.begin()) {
    level.turn.erase(it);
    level.turn.push_front(&lane);
  }
}

void ReadyQueue::DropIfEmpty(std::map<int, Level>::iterator level, Lane* lane) {
  if (!lane->recipients.empty()) return;
  Level& l = level->second;
  l.turn.erase(std::find(l.turn.begin(), l.turn.end(), lane));
  l.lanes.erase(lane->tenant);  // deletes `lane`
  if (l.lanes.empty()) levels_.erase(level);
}

ReadyQueue::Lane* ReadyQueue::Next() {
  if (levels_.empty()) return nullptr;
  Level& level = levels_.begin()->second;
  return level.turn.empty() ? nullptr : level.turn.front();
}

RecipientPtr* ReadyQueue::Front() {
  Lane* lane = Next();
  return lane == nullptr ? nullptr : &lane->recipients.front();
}

RecipientPtr ReadyQueue::PopFront() {
  Lane* lane = Next();
  if (lane == nullptr) return nullptr;
  RecipientPtr r = std::move(lane->recipients.front());
  lane->recipients.pop_front();
  --size_;
  DropIfEmpty(levels_.begin(), lane);
  return r;  // null when the caller moved it out
}

std::vector<RecipientPtr> ReadyQueue::TakeTransaction(int max) {
  std::vector<RecipientPtr> batch;
  Lane* lane = Next();
  if (lane == nullptr) return batch;
  const queue::MessageId id = lane->recipients.front()->message->id;
  while (!lane->recipients.empty() && lane->recipients.front()->message->id == id &&
         static_cast<int>(batch.size()) < max) {
    batch.push_back(std::move(lane->recipients.front()));
    lane->recipients.pop_front();
  }
  size_ -= batch.size();
  auto level = levels_.begin();
  if (lane->recipients.empty()) {
    DropIfEmpty(level, lane);
  } else {
    // The next tenant of this priority has its turn.
    std::deque<Lane*>& turn = level->second.turn;
    turn.pop_front();
    turn.push_back(lane);
  }
  return batch;
}

void ReadyQueue::ForEachUpcoming(size_t messages, const std::function<void(QueuedRecipient&)>& fn) {
  size_t seen = 0;
  if (levels_.size() == 1 && levels_.begin()->second.turn.size() == 1) {
    // One lane (the common case: one tenant at one priority): its front, in order.
    queue::MessageId current = 0;
    for (RecipientPtr& r : levels_.begin()->second.turn.front()->recipients) {
      if (seen == 0 || r->message->id != current) {
        if (seen == messages) break;
        ++seen;
        current = r->message->id;
      }
      fn(*r);
    }
    return;
  }
  for (auto& [priority, level] : levels_) {
    // The lanes' fronts in turn order, one message each round.
    struct Cursor {
      std::deque<RecipientPtr>::iterator at, end;
    };
    std::vector<Cursor> cursors;
    for (Lane* lane : level.turn) {
      cursors.push_back({lane->recipients.begin(), lane->recipients.end()});
    }
    bool any = true;
    while (any && seen < messages) {
      any = false;
      for (Cursor& c : cursors) {
        if (c.at == c.end || seen >= messages) continue;
        any = true;
        ++seen;
        const queue::MessageId id = (*c.at)->message->id;
        for (; c.at != c.end && (*c.at)->message->id == id; ++c.at) fn(**c.at);
      }
    }
    if (seen >= messages) return;
  }
}

size_t ReadyQueue::CountTransactions(size_t cap, int batch_size) const {
  size_t transactions = 0;
  for (const auto& [priority, level] : levels_) {
    for (const Lane* lane : level.turn) {
      int in_batch = 0;
      queue::MessageId current = 0;
      bool first = true;
      for (const RecipientPtr& r : lane->recipients) {
        if (first || r->message->id != current || in_batch >= batch_size) {
          if (transactions == cap) return transactions;
          ++transactions;
          current = r->message->id;
          in_batch = 0;
          first = false;
        }
        ++in_batch;
      }
    }
  }
  return transactions;
}

void ReadyQueue::Filter(const std::function<bool(RecipientPtr&)>& keep) {
  for (auto level = levels_.begin(); level != levels_.end();) {
    std::vector<Lane*> lanes(level->second.turn.begin(), level->second.turn.end());
    auto next = std::next(level);
    for (Lane* lane : lanes) {
      std::deque<RecipientPtr> kept;
      for (RecipientPtr& r : lane->recipients) {
        if (keep(r)) kept.push_back(std::move(r));
      }
      size_ -= lane->recipients.size() - kept.size();
      lane->recipients.swap(kept);
      DropIfEmpty(level, lane);  // may erase `level`; `next` stays valid
    }
    level = next;
  }
}

void ReadyQueue::ForEach(const std::function<void(const QueuedRecipient&)>& fn) const {
  for (const auto& [priority, level] : levels_) {
    for (const auto& [tenant, lane] : level.lanes) {
      for (const RecipientPtr& r : lane->recipients) fn(*r);
    }
  }
}

std::vector<RecipientPtr> ReadyQueue::TakeAll() {
  std::vector<RecipientPtr> all;
  all.reserve(size_);
  for (auto& [priority, level] : levels_) {
    for (Lane* lane : level.turn) {
      for (RecipientPtr& r : lane->recipients) all.push_back(std::move(r));
    }
  }
  levels_.clear();
  size_ = 0;
  return all;
}

}  // namespace volley::delivery
