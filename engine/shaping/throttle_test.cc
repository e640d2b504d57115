#include "engine/shaping/throttle.h"

#include <deque>

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace volley::shaping {
namespace {

config::Rate RateOf(absl::string_view text) {
  absl::StatusOr<std::optional<config::Rate>> rate = config::ParseRateValue(text);
  EXPECT_TRUE(rate.ok() && rate->has_value()) << text;
  return rate.ok() && rate->has_value() ? **rate : config::Rate{};
}

const absl::Time kStart = absl::FromUnixSeconds(1'000'000);

TEST(Throttle, WithoutMaxBurstTheQuotaMaySpendAtOnce) {
  Throttle throttle(RateOf("10/s"), "max_message_rate");
  // Peeking takes nothing.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(throttle.Peek(kStart).go());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(throttle.TryTake(kStart).go()) << i;
  EXPECT_EQ(throttle.Peek(kStart).not_before(), kStart + absl::Milliseconds(100));
  const Admission refused = throttle.TryTake(kStart);
  ASSERT_FALSE(refused.go());
  EXPECT_EQ(refused.not_before(), kStart + absl::Milliseconds(100));
  EXPECT_EQ(refused.limit(), "max_message_rate");
  // Nothing was taken by the refusal: at the time it named, one passes, and the next waits.
  EXPECT_TRUE(throttle.TryTake(kStart + absl::Milliseconds(100)).go());
  EXPECT_FALSE(throttle.TryTake(kStart + absl::Milliseconds(100)).go());
}

TEST(Throttle, MaxBurstOneSpacesEvenly) {
  Throttle throttle(RateOf("50/s,max_burst=1"), "max_message_rate");
  absl::Time now = kStart;
  EXPECT_TRUE(throttle.TryTake(now).go());
  for (int i = 0; i < 20; ++i) {
    const Admission next = throttle.TryTake(now);
    ASSERT_FALSE(next.go());
    EXPECT_EQ(next.not_before(), now + absl::Milliseconds(20));
    now = next.not_before();
    EXPECT_TRUE(throttle.TryTake(now).go());
  }
}

TEST(Throttle, BurstAfterIdleIsCappedAtMaxBurst) {
  Throttle throttle(RateOf("20/m,max_burst=5"), "max_connection_rate");
  int taken = 0;
  while (throttle.TryTake(kStart + absl::Hours(1)).go()) ++taken;
  EXPECT_EQ(taken, 5);
}

TEST(Throttle, AvailableIsWhatTryTakeWouldGive) {
  Throttle throttle(RateOf("100/s,max_burst=30"), "max_message_rate");
  EXPECT_EQ(throttle.Available(kStart), 30u);
  EXPECT_TRUE(throttle.TryTake(kStart, 12).go());
  EXPECT_EQ(throttle.Available(kStart), 18u);
  EXPECT_FALSE(throttle.TryTake(kStart, 19).go());
  EXPECT_EQ(throttle.Available(kStart + absl::Milliseconds(55)), 23u);
  EXPECT_FALSE(throttle.TryTake(kStart, 31).go());
  EXPECT_EQ(throttle.TryTake(kStart, 31).not_before(), absl::InfiniteFuture());
}

TEST(Throttle, GiveBackUndoesATake) {
  Throttle throttle(RateOf("10/s"), "max_message_rate");
  ASSERT_TRUE(throttle.TryTake(kStart, 10).go());
  EXPECT_EQ(throttle.Available(kStart), 0u);
  throttle.GiveBack(4);
  EXPECT_EQ(throttle.Available(kStart), 4u);
}

TEST(Throttle, ANewRateKeepsWhatWasSpent) {
  Throttle throttle(RateOf("100/s"), "max_message_rate");
  ASSERT_TRUE(throttle.TryTake(kStart, 100).go());
  // The old rate's burst covered the next second; the new rate starts from there instead of
  // handing out a fresh burst.
  throttle.set_rate(RateOf("10/s,max_burst=1"));
  const Admission refused = throttle.TryTake(kStart + absl::Milliseconds(500));
  ASSERT_FALSE(refused.go());
  EXPECT_EQ(refused.not_before(), kStart + absl::Seconds(1));
  EXPECT_EQ(throttle.rate(), RateOf("10/s,max_burst=1"));
}

// Against random demand, no window of one period holds more than the GCRA bound, and a
// backlog drains at the configured rate.
TEST(Throttle, WindowBoundAndLongRunRateHoldUnderRandomDemand) {
  for (absl::string_view text :
       {"50/s", "50/s,max_burst=1", "50/s,max_burst=7", "7/s,max_burst=20"}) {
    const config::Rate rate = RateOf(text);
    Throttle throttle(rate, "max_message_rate");
    absl::BitGen rng;
    std::deque<absl::Time> passed;
    uint64_t total = 0;
    size_t max_in_window = 0;
    absl::Time now = kStart;
    const absl::Time end = kStart + absl::Seconds(60);
    while (now < end) {
      // Bursty demand: sometimes many asks at one instant, sometimes gaps; a refused asker
      // comes back when the throttle said, as a site's wake timer does.
      const int asks = absl::Uniform(rng, 0, 4) == 0 ? absl::Uniform(rng, 1, 80) : 1;
      absl::Time next = now + absl::Microseconds(absl::Uniform(rng, 100, 30000));
      for (int i = 0; i < asks; ++i) {
        const Admission admission = throttle.TryTake(now);
        if (!admission.go()) {
          next = std::min(next, admission.not_before());
          break;
        }
        passed.push_back(now);
        ++total;
      }
      while (!passed.empty() && passed.front() <= now - rate.period) passed.pop_front();
      max_in_window = std::max(max_in_window, passed.size());
      now = next;
    }
    // Events k in a window shorter than a period: (k - 1) * interval - (max_burst - 1) *
    // interval < period, so k <= quantity + max_burst - 1.
    const uint64_t bound = rate.quantity + rate.max_burst - 1;
    EXPECT_LE(max_in_window, bound) << text;
    // Demand always exceeds the rate over time, so the total is the rate times the time plus
    // at most the burst.
    const double expected = 60.0 * static_cast<double>(rate.quantity);
    EXPECT_LE(static_cast<double>(total), expected + static_cast<double>(rate.max_burst) + 1)
        << text;
    EXPECT_GE(static_cast<double>(total), 0.9 * expected) << text;
  }
}

}  // namespace
}  // namespace volley::shaping
