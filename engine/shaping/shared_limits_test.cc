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
  std::vector<int> woken(3, 0);
  std::vector<Waker> wakers;
  for (int s = 0; s < 3; ++s) wakers.push_back([&woken, s] { ++woken[s]; });
  std::vector<int> open(3, 0);
  auto total = [&] { return open[0] + open[1] + open[2]; };
  auto held = [&] {
    int sum = 0;
    for (const auto& shard : shards_) sum += shard->held_connections(spec.name);
    return sum;
  };
  // Every shard asks for more than the limit, over and over, as grants arrive.
  for (int round = 0; round < 10; ++round) {
    for (int s = 0; s < 3; ++s) {
      while (shards_[s]->AcquireConnection(spec, wakers[s]).go()) {
        ++open[s];
        ASSERT_LE(total(), 3);
      }
    }
    Deliver();
    ASSERT_LE(held(), 3);
  }
  EXPECT_EQ(total(), 3);
  // A slot given back on one shard reaches a shard that waits for one, which then takes it.
  const int giver = open[0] > 0 ? 0 : (open[1] > 0 ? 1 : 2);
  shards_[giver]->ReleaseConnection(spec.name);
  --open[giver];
  std::fill(woken.begin(), woken.end(), 0);
  int taker = -1;
  for (int i = 0; i < 20 && taker < 0; ++i) {
    Deliver();
    for (int s = 0; s < 3; ++s) {
      if (woken[s] > 0 && shards_[s]->AcquireConnection(spec, wakers[s]).go()) {
        ++open[s];
        taker = s;
        break;
      }
    }
    if (taker < 0) uv_run(&loop_, UV_RUN_ONCE);  // the idle-return timer (a real 50 ms)
  }
  EXPECT_GE(taker, 0) << "the freed slot reached nobody";
  EXPECT_EQ(total(), 3);
  EXPECT_LE(held(), 3);
}

TEST_F(SharedLimitsTest, OneShardIsAPlainLimit) {
  MakeShards(1);
  config::SharedLimitSpec spec;
  spec.kind = config::SharedLimitSpec::Kind::kConnections;
  spec.name = "additional:x connections";
  spec.connections = 2;
  int woken = 0;
  const Waker waker = [&woken] { ++woken; };
  EXPECT_TRUE(shards_[0]->AcquireConnection(spec, waker).go());
  EXPECT_TRUE(shards_[0]->AcquireConnection(spec, waker).go());
  EXPECT_FALSE(shards_[0]->AcquireConnection(spec, waker).go());
  EXPECT_TRUE(mail_.empty()) << "the owner is asked directly";
  shards_[0]->ReleaseConnection(spec.name);
  EXPECT_EQ(woken, 0) << "never from inside the call that freed the slot";
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(woken, 1);
  EXPECT_TRUE(shards_[0]->AcquireConnection(spec, waker).go());
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
