#include "engine/delivery/ready_queue.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

class ReadyQueueTest : public ::testing::Test {
 protected:
  // A message of `tenant` at `priority` with `recipients` recipients, pushed in order.
  queue::MessageId Add(const std::string& tenant, int priority, int recipients = 1) {
    auto message = std::make_shared<MessageInfo>();
    message->id = ++next_id_;
    message->tenant = tenant;
    message->priority = static_cast<uint8_t>(priority);
    for (int i = 0; i < recipients; ++i) {
      auto r = std::make_unique<QueuedRecipient>();
      r->message = message;
      r->index = static_cast<uint32_t>(i);
      queue_.Push(std::move(r));
    }
    return message->id;
  }
  // The tenant of each transaction taken until the queue is empty (one recipient each unless
  // `max` says otherwise).
  std::vector<std::string> Drain(int max = 100) {
    std::vector<std::string> order;
    while (!queue_.empty()) {
      std::vector<RecipientPtr> batch = queue_.TakeTransaction(max);
      EXPECT_FALSE(batch.empty());
      order.push_back(batch.front()->message->tenant + ":" +
                      std::to_string(batch.front()->message->priority));
    }
    return order;
  }

  ReadyQueue queue_;
  queue::MessageId next_id_ = 0;
};

TEST_F(ReadyQueueTest, HigherPriorityGoesFirst) {
  Add("a", 2);
  Add("a", 2);
  Add("b", 8);
  Add("c", 5);
  EXPECT_EQ(Drain(), (std::vector<std::string>{"b:8", "c:5", "a:2", "a:2"}));
}

TEST_F(ReadyQueueTest, TenantsOfOnePriorityTakeTurns) {
  for (int i = 0; i < 5; ++i) Add("bulk", 5);
  Add("reset", 5);
  Add("reset", 5);
  Add("other", 5);
  EXPECT_EQ(Drain(), (std::vector<std::string>{"bulk:5", "reset:5", "other:5", "bulk:5", "reset:5",
                                               "bulk:5", "bulk:5", "bulk:5"}));
}

TEST_F(ReadyQueueTest, AMessageStaysTogetherAndSplitsAtTheBatchSize) {
  const queue::MessageId big = Add("a", 5, 5);
  Add("b", 5, 1);
  std::vector<RecipientPtr> first = queue_.TakeTransaction(3);
  ASSERT_EQ(first.size(), 3u);
  for (const RecipientPtr& r : first) EXPECT_EQ(r->message->id, big);
  // b's turn, then the rest of the big message.
  EXPECT_EQ(queue_.TakeTransaction(3).front()->message->tenant, "b");
  std::vector<RecipientPtr> rest = queue_.TakeTransaction(3);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest.front()->message->id, big);
  EXPECT_TRUE(queue_.empty());
}

TEST_F(ReadyQueueTest, PushFrontLeadsTheNextTransaction) {
  Add("a", 5, 3);
  Add("b", 5);
  std::vector<RecipientPtr> batch = queue_.TakeTransaction(10);
  ASSERT_EQ(batch.size(), 3u);
  // The server took one; two come back, and go before b's turn.
  queue_.PushFront(std::move(batch[2]));
  queue_.PushFront(std::move(batch[1]));
  std::vector<RecipientPtr> again = queue_.TakeTransaction(10);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0]->index, 1u);
  EXPECT_EQ(again[1]->index, 2u);
  EXPECT_EQ(queue_.TakeTransaction(10).front()->message->tenant, "b");
}

TEST_F(ReadyQueueTest, UpcomingIsServiceOrderAndCountsAreOfTransactions) {
  const queue::MessageId a1 = Add("a", 5, 2);
  const queue::MessageId a2 = Add("a", 5);
  const queue::MessageId b1 = Add("b", 5);
  const queue::MessageId h1 = Add("h", 9);
  std::vector<queue::MessageId> ids;
  queue_.ForEachUpcoming(3, [&](QueuedRecipient& r) { ids.push_back(r.message->id); });
  EXPECT_EQ(ids, (std::vector<queue::MessageId>{h1, a1, a1, b1}));
  EXPECT_EQ(queue_.CountTransactions(100, 100), 4u);
  EXPECT_EQ(queue_.CountTransactions(100, 1), 5u);  // a1 splits in two
  EXPECT_EQ(queue_.CountTransactions(2, 1), 2u);
  (void)a2;
  EXPECT_EQ(queue_.size(), 5u);
}

TEST_F(ReadyQueueTest, FrontPopFilterAndTakeAll) {
  Add("a", 5);
  const queue::MessageId b = Add("b", 5);
  Add("c", 1);
  ASSERT_NE(queue_.Front(), nullptr);
  EXPECT_EQ((*queue_.Front())->message->tenant, "a");
  // An expired front is moved out by the caller, then popped.
  RecipientPtr gone = std::move(*queue_.Front());
  EXPECT_EQ(queue_.PopFront(), nullptr);
  EXPECT_EQ((*queue_.Front())->message->id, b);
  queue_.Filter([&](RecipientPtr& r) { return r->message->id != b; });
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ((*queue_.Front())->message->tenant, "c");
  std::vector<RecipientPtr> all = queue_.TakeAll();
  EXPECT_EQ(all.size(), 1u);
  EXPECT_TRUE(queue_.empty());
  EXPECT_EQ(queue_.Front(), nullptr);
}

}  // namespace
}  // namespace volley::delivery
