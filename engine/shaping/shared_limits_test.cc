// SharedLimits across several shards, simulated on one loop: tasks "posted" to a shard queue up
// and are delivered when the test says, so every interleaving of asks and grants is explicit.
#include "engine/shaping/shared_limits.h"

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace volley::shaping {
namespace {

class SharedLimitsTest : public ::testing::Test {
 protected:
  void MakeShards(int n) {
    for (int i = 0; i < n; ++i) {
      shards_.push_back(std::make_unique<SharedLimits>(
          &loop_, i, n, &clock_,
          [this](int index, absl::AnyInvocable<void(SharedLimits&) &&> task) {
            mail_.emplace_back(index, std::move(task));
          }));
    }
  }
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    // SharedLimits' timers do not keep a loop alive (a shard's other handles do): this one
    // stands in for them, so that uv_run runs what is due.
    uv_timer_init(&loop_, &keep_alive_);
    uv_timer_start(
        &keep_alive_, [](uv_timer_t*) {}, 3'600'000, 0);
  }
  void TearDown() override {
    shards_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&keep_alive_), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);  // the timers' close callbacks
    ASSERT_EQ(uv_loop_close(&loop_), 0);
  }
  // Delivers every posted task (and what they post), then runs what is due on the loop.
  void Deliver() {
    while (!mail_.empty()) {
      auto [index, task] = std::move(mail_.front());
      mail_.pop_front();
      std::move(task)(*shards_[index]);
    }
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  // The spec of a connection budget whose owner is not shard `not_owner`.
  config::SharedLimitSpec ConnectionSpec(int limit, int not_owner) {
    config::SharedLimitSpec spec;
    spec.kind = config::SharedLimitSpec::Kind::kConnections;
    spec.connections = limit;
    for (int i = 0;; ++i) {
      spec.name = absl::StrCat("provider:p", i, " connection_limit");
      if (shards_[0]->OwnerOf(spec.name) != not_owner) return spec;
    }
  }

  uv_loop_t loop_;
  uv_timer_t keep_alive_;
  SimulatedClock clock_;
  std::deque<std::pair<int, absl::AnyInvocable<void(SharedLimits&) &&>>> mail_;
  std::vector<std::unique_ptr<SharedLimits>> shards_;
};

TEST_F(SharedLimitsTest, ConnectionSlotsNeverExceedTheLimitAcrossShards) {
  MakeShards(3);
  const config::SharedLimitSpec spec = ConnectionSpec(3, /*not_owner=*/-1);
  // Two sites per shard, each wanting as many connections as it can get.
  struct Site {
    int shard;
    int open = 0;
    int woken = 0;
  };
  std::vector<Site> sites = {{0}, {0}, {1}, {1}, {2}, {2}};
  auto total = [&] {
    int sum = 0;
    for (const Site& site : sites) sum += site.open;
    return sum;
  };
  auto try_all = [&] {
    for (Site& site : sites) {
      while (shards_[site.shard]->AcquireConnection(spec, &site, [&site] { ++site.woken; }).go()) {
        ++site.open;
        ASSERT_LE(total(), 3);
      }
    }
  };
  for (int round = 0; round < 5; ++round) {
    try_all();
    Deliver();
  }
  try_all();
  EXPECT_EQ(total(), 3);
  // The budget is contended: the shards with holders are told (their sites close what they
  // keep idle, a waiting site too: its ask may be stale).
  for (Site& site : sites) {
    if (site.open > 0) {
      EXPECT_TRUE(shards_[site.shard]->contended(spec.name)) << site.shard;
    }
  }
  // Slots go back one by one; each reaches the site that asked first, on whichever shard.
  for (int i = 0; i < 12; ++i) {
    Site* giver = nullptr;
    for (Site& site : sites) {
      if (site.open > 0) giver = &site;
    }
    ASSERT_NE(giver, nullptr);
    shards_[giver->shard]->ReleaseConnection(spec.name, giver);
    --giver->open;
    Deliver();
    try_all();
    Deliver();
    EXPECT_EQ(total(), 3) << "a freed slot reaches a waiting site at once";
  }
  int served = 0;
  for (const Site& site : sites) served += site.woken > 0;
  EXPECT_GE(served, 4) << "first come, first served across shards";
}

TEST_F(SharedLimitsTest, AGrantNobodyTakesGoesBack) {
  MakeShards(2);
  const config::SharedLimitSpec spec = ConnectionSpec(1, /*not_owner=*/1);  // owner: shard 0
  const int holder = 0, asker = 0;
  ASSERT_TRUE(shards_[0]->AcquireConnection(spec, &holder, [] {}).go());
  EXPECT_FALSE(shards_[1]->AcquireConnection(spec, &asker, [] {}).go());
  Deliver();
  shards_[0]->ReleaseConnection(spec.name, &holder);
  Deliver();  // the slot is granted to shard 1, whose site no longer wants it
  EXPECT_FALSE(shards_[0]->AcquireConnection(spec, &holder, [] {}).go());
  for (int i = 0; i < 10 && !shards_[0]->AcquireConnection(spec, &holder, [] {}).go(); ++i) {
    clock_.Advance(SharedLimits::kUnclaimedGrantTtl);
    uv_run(&loop_, UV_RUN_ONCE);  // the return timer (a real 50 ms)
    Deliver();
  }
  EXPECT_EQ(shards_[0]->connections_in_use(spec.name), 1) << "the unclaimed slot came back";
}

TEST_F(SharedLimitsTest, OneShardIsAPlainLimit) {
  MakeShards(1);
  config::SharedLimitSpec spec;
  spec.kind = config::SharedLimitSpec::Kind::kConnections;
  spec.name = "additional:x connections";
  spec.connections = 2;
  int holder_woken = 0;
  int waiter_woken = 0;
  const int holder = 1, waiter = 2;
  const Waker wake_holder = [&] { ++holder_woken; };
  const Waker wake_waiter = [&] { ++waiter_woken; };
  EXPECT_TRUE(shards_[0]->AcquireConnection(spec, &holder, wake_holder).go());
  EXPECT_TRUE(shards_[0]->AcquireConnection(spec, &holder, wake_holder).go());
  EXPECT_FALSE(shards_[0]->contended(spec.name));
  EXPECT_FALSE(shards_[0]->AcquireConnection(spec, &waiter, wake_waiter).go());
  EXPECT_TRUE(mail_.empty()) << "the owner is asked directly";
  // The holder hears that a site waits, so that it can close a connection it keeps idle.
  EXPECT_TRUE(shards_[0]->contended(spec.name));
  EXPECT_EQ(holder_woken, 0) << "never from inside the call";
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(holder_woken, 1);
  EXPECT_EQ(waiter_woken, 0);
  shards_[0]->ReleaseConnection(spec.name, &holder);
  EXPECT_EQ(waiter_woken, 0) << "never from inside the call that freed the slot";
  EXPECT_FALSE(shards_[0]->contended(spec.name)) << "nobody waits any more";
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(waiter_woken, 1);
  EXPECT_TRUE(shards_[0]->AcquireConnection(spec, &waiter, wake_waiter).go());
  EXPECT_FALSE(shards_[0]->AcquireConnection(spec, &waiter, wake_waiter).go());
}

TEST_F(SharedLimitsTest, RateEventsComeFromTheOwnersThrottle) {
  MakeShards(3);
  config::SharedLimitSpec spec;
  spec.kind = config::SharedLimitSpec::Kind::kMessageRate;
  spec.rate = config::Rate{100, absl::Seconds(1), 100};
  spec.name = "provider:q max_message_rate";
  const Waker waker = [] {};
  // For a simulated second, every shard takes all it can, as often as it can.
  uint64_t taken = 0;
  const absl::Time start = clock_.Now();
  while (clock_.Now() < start + absl::Seconds(1)) {
    for (int s = 0; s < 3; ++s) {
      while (shards_[s]->TakeEvent(spec, clock_.Now(), waker).go()) ++taken;
    }
    Deliver();
    clock_.Advance(absl::Milliseconds(5));
  }
  // The burst (100) and a second at 100/s, less the end of the window: the one throttle
  // admitted every event.
  EXPECT_LE(taken, 100u + 100u);
  EXPECT_GE(taken, 150u);
}

}  // namespace
}  // namespace volley::shaping
