// The rule trigger and the SetConfig overrides, on a fake clock.
#include "engine/adaptive/rule_trigger.h"

#include "engine/adaptive/limit_overrides.h"
#include "gtest/gtest.h"

namespace volley::adaptive {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(RuleTriggers, ImmediateFiresEveryTime) {
  RuleTriggers t;
  EXPECT_TRUE(t.Match(0, 0, std::nullopt, kStart));
  EXPECT_TRUE(t.Match(0, 0, std::nullopt, kStart));
}

TEST(RuleTriggers, AThresholdFiresAtItsCountWithinThePeriodPerSource) {
  RuleTriggers t;
  const config::Rate three_a_minute{3, absl::Minutes(1), 3};
  EXPECT_FALSE(t.Match(0, 0, three_a_minute, kStart));
  EXPECT_FALSE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(20)));
  // Another source and another rule count apart.
  EXPECT_FALSE(t.Match(0, 1, three_a_minute, kStart + absl::Seconds(30)));
  EXPECT_FALSE(t.Match(1, 0, three_a_minute, kStart + absl::Seconds(30)));
  EXPECT_TRUE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(40)));
  // The count starts again after it fired; old matches fall out of the window.
  EXPECT_FALSE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(50)));
  EXPECT_FALSE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(100)));
  // At 170 s the matches of 50 and 100 s are more than a minute old: the count is one.
  EXPECT_FALSE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(170)));
  EXPECT_FALSE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(171)));
  EXPECT_TRUE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(172)));
  t.Clear();
  EXPECT_FALSE(t.Match(0, 0, three_a_minute, kStart + absl::Seconds(173)));
}

config::AutomationAction Set(std::string name, int value) {
  return config::AutomationAction{config::AutomationAction::Kind::kSetConfig, std::move(name),
                                  value, std::nullopt};
}

TEST(LimitOverrides, ApplyPerSourceUntilTheyEnd) {
  LimitOverrides o;
  std::vector<config::ShapingConfig> base(2);
  base[0].connection_limit = 10;
  base[1].connection_limit = 10;
  o.Set(1, Set("connection_limit", 2), kStart + absl::Minutes(30), "t.toml:3");
  config::AutomationAction rate{config::AutomationAction::Kind::kSetConfig, "max_message_rate", 0,
                                config::Rate{10, absl::Minutes(1), 10}};
  o.Set(0, rate, kStart + absl::Minutes(10), "t.toml:9");
  std::vector<config::ShapingConfig> effective = o.Apply(base);
  EXPECT_EQ(effective[0].connection_limit, 10);
  EXPECT_EQ(effective[1].connection_limit, 2);
  EXPECT_EQ(effective[0].max_message_rate->ToString(), "10/m");
  EXPECT_EQ(o.NextExpiry(), kStart + absl::Minutes(10));
  EXPECT_EQ(LimitOverrides::ValueText(rate), "10/m");
  // The same key again replaces it; the end drops it.
  o.Set(1, Set("connection_limit", 3), kStart + absl::Minutes(40), "t.toml:3");
  EXPECT_EQ(o.all().size(), 2u);
  EXPECT_FALSE(o.Expire(kStart + absl::Minutes(5)));
  EXPECT_TRUE(o.Expire(kStart + absl::Minutes(10)));
  effective = o.Apply(base);
  EXPECT_EQ(effective[1].connection_limit, 3);
  EXPECT_EQ(effective[0].max_message_rate, base[0].max_message_rate);
  EXPECT_TRUE(o.Expire(kStart + absl::Hours(1)));
  EXPECT_EQ(o.NextExpiry(), absl::InfiniteFuture());
}

}  // namespace
}  // namespace volley::adaptive
