#include "engine/delivery/retry_policy.h"

#include <random>

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

config::DeliveryConfig Config() {
  config::DeliveryConfig c;
  c.retry_initial = absl::Minutes(5);
  c.retry_max = absl::Hours(1);
  c.max_age = absl::Hours(24);
  return c;
}

TEST(RetryPolicy, DoublesFromRetryInitialWithTenPercentJitter) {
  const config::DeliveryConfig config = Config();
  absl::BitGen gen(std::seed_seq{42});
  RetryPolicy policy(config, gen);
  const absl::Duration expected[] = {absl::Minutes(5), absl::Minutes(10), absl::Minutes(20),
                                     absl::Minutes(40)};
  for (uint32_t attempts = 1; attempts <= 4; ++attempts) {
    const absl::Duration base = expected[attempts - 1];
    for (int sample = 0; sample < 200; ++sample) {
      const absl::Duration d = policy.Delay(attempts);
      EXPECT_GE(d, base * 0.9) << attempts;
      EXPECT_LT(d, base * 1.1) << attempts;
    }
  }
}

TEST(RetryPolicy, TheJitterSpreadsOverTheWholeWindow) {
  const config::DeliveryConfig config = Config();
  absl::BitGen gen(std::seed_seq{7});
  RetryPolicy policy(config, gen);
  absl::Duration lowest = absl::InfiniteDuration();
  absl::Duration highest = absl::ZeroDuration();
  for (int sample = 0; sample < 2000; ++sample) {
    const absl::Duration d = policy.Delay(1);
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  // 2,000 draws from [270 s, 330 s) come within a second of both ends.
  EXPECT_LT(lowest, absl::Seconds(271));
  EXPECT_GT(highest, absl::Seconds(329));
}

TEST(RetryPolicy, RetryMaxCapsTheDelay) {
  const config::DeliveryConfig config = Config();
  absl::BitGen gen(std::seed_seq{1});
  RetryPolicy policy(config, gen);
  for (uint32_t attempts : {5u, 6u, 10u, 40u, 1000u}) {
    const absl::Duration d = policy.Delay(attempts);
    EXPECT_GE(d, absl::Minutes(54)) << attempts;
    EXPECT_LT(d, absl::Minutes(66)) << attempts;
  }
}

TEST(RetryPolicy, ARetryThatWouldComeAfterMaxAgeExpiresNow) {
  const config::DeliveryConfig config = Config();
  absl::BitGen gen(std::seed_seq{3});
  RetryPolicy policy(config, gen);
  const absl::Time created = absl::FromUnixSeconds(1000000);
  // Early: the next attempt is about five minutes out.
  std::optional<absl::Time> next = policy.NextAttempt(1, created, created + absl::Minutes(1));
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, created + absl::Minutes(5));
  // Ten minutes before max_age, with an hour to wait: no attempt could happen in between.
  EXPECT_FALSE(
      policy.NextAttempt(10, created, created + absl::Hours(24) - absl::Minutes(10)).has_value());
  EXPECT_FALSE(policy.Expired(created, created + absl::Hours(24) - absl::Seconds(1)));
  EXPECT_TRUE(policy.Expired(created, created + absl::Hours(24)));
}

}  // namespace
}  // namespace volley::delivery
