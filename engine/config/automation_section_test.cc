// [[shaping.automation]]: rules as written, and every kind of mistake with its line.
#include "engine/config/automation_section.h"

#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/config/config_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using Kind = AutomationAction::Kind;

TEST(Automation, ReadsEveryKeyOfARule) {
  absl::StatusOr<Config> config = ParseConfig(R"(
[shaping.provider.google]
match = ["MXSuffix=.google.com"]

[[shaping.automation]]
regex = ["421 .*too many connections", "4\\.7\\.0 .*rate limit"]
action = { SetConfig = { name = "connection_limit", value = 2 } }
trigger = { Threshold = "3/m" }
duration = "30m"
provider = "google"

[[shaping.automation]]
regex = "TSS04"
action = ["Suspend", "SuspendTenant", { SetConfig = { name = "max_message_rate", value = "10/m" } }]
duration = "1h"
domain = "Yahoo.COM"

[shaping]
default_automation = false
)",
                                              kOrigin);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::vector<AutomationRule>& rules = config->shaping.automation;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_FALSE(config->shaping.default_automation);
  EXPECT_EQ(rules[0].origin, "t.toml:5");
  EXPECT_EQ(rules[0].regex.size(), 2u);
  ASSERT_EQ(rules[0].actions.size(), 1u);
  EXPECT_EQ(rules[0].actions[0].kind, Kind::kSetConfig);
  EXPECT_EQ(rules[0].actions[0].name, "connection_limit");
  EXPECT_EQ(rules[0].actions[0].int_value, 2);
  ASSERT_TRUE(rules[0].threshold.has_value());
  EXPECT_EQ(rules[0].threshold->quantity, 3u);
  EXPECT_EQ(rules[0].threshold->period, absl::Minutes(1));
  EXPECT_EQ(rules[0].duration, absl::Minutes(30));
  EXPECT_EQ(rules[0].provider, "google");
  EXPECT_FALSE(rules[1].threshold.has_value());  // Immediate by default
  ASSERT_EQ(rules[1].actions.size(), 3u);
  EXPECT_EQ(rules[1].actions[1].kind, Kind::kSuspendTenant);
  EXPECT_EQ(rules[1].actions[2].rate_value->ToString(), "10/m");
  EXPECT_EQ(rules[1].domain, "yahoo.com");
}

TEST(Automation, EveryMistakeIsReportedWithItsLine) {
  absl::StatusOr<Config> config = ParseConfig(R"([[shaping.automation]]
regex = ["421 (unclosed"]
action = "Suspendd"
trigger = { Threshold = "3/never" }
duration = "30m"

[[shaping.automation]]
regex = "x"
action = { SetConfig = { name = "connection_limitt", value = 2 } }
duration = "soon"
provider = "nobody"

[[shaping.automation]]
regex = "y"
action = { SetConfig = { name = "connection_limit", value = "two" } }
trigger = "Sometimes"
colour = "red"
duration = "1m"
)",
                                              kOrigin);
  EXPECT_THAT(Errors(config),
              ::testing::ElementsAre(
                  ::testing::HasSubstr("t.toml:2: [[shaping.automation]] regex: invalid regular "
                                       "expression \"421 (unclosed\": missing )"),
                  ::testing::HasSubstr("t.toml:3: [[shaping.automation]] action: unknown action "
                                       "\"Suspendd\" (known: Suspend, SuspendTenant"),
                  ::testing::HasSubstr("t.toml:4: [[shaping.automation]] trigger Threshold: "),
                  ::testing::HasSubstr("t.toml:7: [[shaping.automation]] provider: no "
                                       "[shaping.provider.nobody] table"),
                  ::testing::HasSubstr("t.toml:9: [[shaping.automation]] action SetConfig name: "
                                       "unknown shaping key \"connection_limitt\""),
                  ::testing::HasSubstr("t.toml:10: [[shaping.automation]] duration"),
                  ::testing::HasSubstr("t.toml:15: [[shaping.automation]] action SetConfig value"),
                  ::testing::HasSubstr("t.toml:16: [[shaping.automation]] trigger: expected "
                                       "\"Immediate\""),
                  ::testing::HasSubstr("t.toml:17: unknown key 'colour'")));
}

TEST(Automation, RequiredKeysAreNamedAtTheTable) {
  ExpectOneError("\n[[shaping.automation]]\nregex = \"x\"\naction = \"Bounce\"\n", 2,
                 "duration: required");
  ExpectOneError("[[shaping.automation]]\nregex = \"x\"\nduration = \"1m\"\n", 1,
                 "action: required");
  ExpectOneError("[shaping]\nautomation = 3\n", 2, "write each rule as a [[shaping.automation]]");
}

TEST(Automation, ParseAutomationTextReadsARulesFile) {
  auto rules = ParseAutomationText(
      "[[shaping.automation]]\nregex = \"a\"\naction = \"Bounce\"\nduration = \"5m\"\n", "f.toml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ((*rules)[0].origin, "f.toml:1");
  EXPECT_FALSE(ParseAutomationText("[other]\n", "f.toml").ok());
}

}  // namespace
}  // namespace volley::config
