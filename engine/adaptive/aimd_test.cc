// The AIMD controller on a fake clock: time is a number the test moves.
#include "engine/adaptive/aimd.h"

#include "gtest/gtest.h"

namespace volley::adaptive {
namespace {

using Signal = AimdController::Signal;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
const absl::Duration kFast = absl::Milliseconds(5);

TEST(Aimd, StartsAtTheConfiguredLimitAndHalvesOnCongestionOncePerEpisode) {
  AimdController c;
  c.Configure(10, 1, 0.5);
  EXPECT_EQ(c.connection_limit(), 10);
  EXPECT_TRUE(c.at_limit());
  EXPECT_TRUE(c.OnCongestion(Signal::kReply421, "421 4.7.0 try later", kT0));
  EXPECT_EQ(c.connection_limit(), 5);
  EXPECT_EQ(c.last_signal(), Signal::kReply421);
  EXPECT_EQ(c.last_detail(), "421 4.7.0 try later");
  // The same episode (within the hold) cuts once.
  EXPECT_FALSE(c.OnCongestion(Signal::kRefused, "refused", kT0 + absl::Seconds(1)));
  EXPECT_EQ(c.connection_limit(), 5);
  EXPECT_TRUE(c.OnCongestion(Signal::kRefused, "refused", kT0 + absl::Seconds(3)));
  EXPECT_EQ(c.connection_limit(), 2);
  // Never below the floor.
  for (int i = 2; i < 10; ++i)
    c.OnCongestion(Signal::kDeferral, "4.7.1", kT0 + absl::Seconds(3 * i));
  EXPECT_EQ(c.connection_limit(), 1);
  EXPECT_DOUBLE_EQ(c.fraction(), 0.1);
}

TEST(Aimd, GrowsByOneConnectionPerWindowOfSuccessesUpToTheLimit) {
  AimdController c;
  c.Configure(4, 1, 0.5);
  ASSERT_TRUE(c.OnCongestion(Signal::kReply421, "421", kT0));  // 2
  absl::Time t = kT0 + absl::Seconds(1);
  // Not during the hold after a decrease.
  EXPECT_FALSE(c.OnSuccess(kFast, 2, t));
  t = kT0 + AimdController::kHoldAfterDecrease;
  // Not while the path does not fill its window.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(c.OnSuccess(kFast, 1, t));
  EXPECT_EQ(c.connection_limit(), 2);
  // About a window's worth of successes adds one connection (1/window each): 2 -> 3 takes
  // three (2, 2.5, 2.9, 3.24), 3 -> 4 three more (3.56, 3.84, 4.1); then the ceiling.
  auto successes_to_grow = [&](int in_use) {
    const int before = c.connection_limit();
    int n = 0;
    while (c.connection_limit() == before && n < 10) {
      c.OnSuccess(kFast, in_use, t);
      ++n;
    }
    return n;
  };
  EXPECT_EQ(successes_to_grow(2), 3);
  EXPECT_EQ(c.connection_limit(), 3);
  EXPECT_EQ(c.last_signal(), Signal::kIncrease);
  EXPECT_EQ(successes_to_grow(3), 3);
  EXPECT_EQ(c.connection_limit(), 4);
  for (int i = 0; i < 20; ++i) c.OnSuccess(kFast, 4, t);
  EXPECT_EQ(c.connection_limit(), 4);
  EXPECT_TRUE(c.at_limit());
}

TEST(Aimd, RisingLatencyCutsAndFlatLatencyLetsItRecover) {
  AimdController c;
  c.Configure(8, 2, 0.5);
  absl::Time t = kT0;
  for (int i = 0; i < 20; ++i) c.OnSuccess(kFast, 8, t);
  EXPECT_EQ(c.latency_baseline(), kFast);
  // 500 ms replies: the smoothed latency passes twice the baseline and the window is cut, once
  // per hold, down to the floor.
  int cuts = 0;
  for (int i = 0; i < 40; ++i) {
    t += absl::Milliseconds(500);
    if (c.OnSuccess(absl::Milliseconds(500), c.connection_limit(), t)) ++cuts;
  }
  EXPECT_EQ(c.connection_limit(), 2);
  EXPECT_GE(cuts, 2);
  EXPECT_EQ(c.last_signal(), Signal::kLatency);
  // Back to 5 ms: once the smoothed latency is down, the window grows back to the limit.
  for (int i = 0; i < 200 && !c.at_limit(); ++i) {
    t += absl::Milliseconds(100);
    c.OnSuccess(kFast, c.connection_limit(), t);
  }
  EXPECT_TRUE(c.at_limit());
  EXPECT_EQ(c.connection_limit(), 8);
}

TEST(Aimd, ALatencyThatStaysHigherBecomesTheBaseline) {
  AimdController c;
  c.Configure(8, 1, 0.5);
  absl::Time t = kT0;
  for (int i = 0; i < 10; ++i) c.OnSuccess(kFast, 8, t);
  for (int i = 0; i < 2000; ++i) {
    t += absl::Milliseconds(100);
    c.OnSuccess(absl::Milliseconds(50), c.connection_limit(), t);
  }
  EXPECT_GT(c.latency_baseline(), absl::Milliseconds(30));
  EXPECT_TRUE(c.at_limit());
}

TEST(Aimd, ANewConfigurationClampsTheWindow) {
  AimdController c;
  c.Configure(10, 1, 0.5);
  c.OnCongestion(Signal::kReply421, "421", kT0);  // 5
  c.Configure(3, 1, 0.5);
  EXPECT_EQ(c.connection_limit(), 3);
  c.Configure(20, 4, 0.5);
  EXPECT_EQ(c.connection_limit(), 4);
}

}  // namespace
}  // namespace volley::adaptive
