#include "queue/message_id.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace volley::queue {
namespace {

TEST(MessageIdGenerator, UniqueAndIncreasingWithAFrozenClock) {
  SimulatedClock clock(absl::FromUnixSeconds(1700000000));
  MessageIdGenerator ids(clock);
  MessageId previous = ids.Next();
  EXPECT_EQ(previous, MessageId{1700000000000000});
  for (int i = 0; i < 1000; ++i) {
    MessageId id = ids.Next();
    EXPECT_GT(id, previous);
    previous = id;
  }
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(ids.Next(), MessageId{1700000001000000});
}

TEST(MessageIdGenerator, FloorFromTheSpoolWins) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  MessageIdGenerator ids(clock);
  ids.RaiseFloor(MessageId{5000000000000000});
  EXPECT_EQ(ids.Next(), MessageId{5000000000000001});
  ids.RaiseFloor(1);  // lower floors change nothing
  EXPECT_EQ(ids.Next(), MessageId{5000000000000002});
}

TEST(MessageIdGenerator, ThreadsNeverShareAnId) {
  SimulatedClock clock(absl::FromUnixSeconds(1700000000));
  MessageIdGenerator ids(clock);
  std::vector<std::vector<MessageId>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) got[t].push_back(ids.Next());
    });
  }
  for (auto& t : threads) t.join();
  std::vector<MessageId> all;
  for (auto& v : got) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), 20000u);
}

}  // namespace
}  // namespace volley::queue
