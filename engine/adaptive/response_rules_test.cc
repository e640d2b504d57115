#include "engine/adaptive/response_rules.h"

#include "engine/config/automation_section.h"
#include "gtest/gtest.h"

namespace volley::adaptive {
namespace {

smtp::Reply MakeReply(int code, std::optional<smtp::EnhancedCode> enhanced, std::string text) {
  smtp::Reply reply;
  reply.code = code;
  reply.enhanced = enhanced;
  reply.lines = {std::move(text)};
  return reply;
}

config::ShapingRules Only(absl::string_view toml) {
  config::ShapingRules shaping;
  shaping.default_automation = false;
  auto rules = config::ParseAutomationText(toml, "t.toml");
  EXPECT_TRUE(rules.ok()) << rules.status();
  if (rules.ok()) shaping.automation = *rules;
  return shaping;
}

TEST(ResponseRules, TheShippedRulesKnowTheBigProviders) {
  config::ShapingRules shaping;
  ResponseRules rules(shaping);
  ASSERT_EQ(rules.size(), DefaultAutomationRules().size());
  ASSERT_GE(rules.size(), 6u);
  auto first = [&](int code, smtp::EnhancedCode ec, const std::string& text) -> std::string {
    std::vector<size_t> m = rules.Matching(MakeReply(code, ec, text).Summary(), "", "x.example");
    return m.empty() ? "" : rules.rule(m[0]).origin;
  };
  const std::string gmail = first(
      421, {4, 7, 28},
      "[192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from "
      "your IP address. To protect our users from spam, mail sent from your IP address has been "
      "temporarily rate limited. - gsmtp");
  const std::string microsoft =
      first(451, {4, 7, 650},
            "The mail server [192.0.2.1] has been temporarily rate limited due to IP "
            "reputation.");
  const std::string banned =
      first(550, {5, 7, 606}, "Access denied, banned sending IP [192.0.2.1].");
  const std::string yahoo =
      first(421, {4, 7, 0},
            "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
            "complaints - 4.16.55.1");
  const std::string connections = first(421, {4, 7, 0}, "Too many concurrent SMTP connections");
  const std::string greylist = first(450, {4, 7, 1}, "Greylisted, try again in 5 minutes");
  for (const std::string* origin : {&gmail, &microsoft, &banned, &yahoo, &connections, &greylist}) {
    EXPECT_NE(*origin, "");
  }
  // Six replies, six different rules.
  std::set<std::string> distinct = {gmail, microsoft, banned, yahoo, connections, greylist};
  EXPECT_EQ(distinct.size(), 6u);
  // An ordinary deferral matches none.
  EXPECT_TRUE(rules.Matching("451 4.3.0 Temporary local problem", "", "x.example").empty());
  EXPECT_TRUE(rules.Matching("250 2.0.0 OK", "", "x.example").empty());
}

TEST(ResponseRules, ScopeAndOrder) {
  ResponseRules rules(Only(R"(
[[shaping.automation]]
regex = "rate limit"
action = "Suspend"
duration = "1m"
provider = "google"

[[shaping.automation]]
regex = ["(?i)RATE LIMIT", "never"]
action = "Bounce"
duration = "1m"
domain = "b.example"

[[shaping.automation]]
regex = "limit"
action = "Suspend"
duration = "1m"
)"));
  EXPECT_EQ(rules.Matching("421 rate limit", "google", "a.example"), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(rules.Matching("421 rate limit", "", "b.example"), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(rules.Matching("421 nothing", "google", "b.example"), std::vector<size_t>{});
}

TEST(ResponseRules, TheShippedSetCanBeTurnedOffAndComesFirst) {
  config::ShapingRules shaping =
      Only("[[shaping.automation]]\nregex = \"x\"\naction = \"Bounce\"\nduration = \"1m\"\n");
  EXPECT_EQ(ResponseRules(shaping).size(), 1u);
  shaping.default_automation = true;
  ResponseRules both(shaping);
  EXPECT_EQ(both.size(), DefaultAutomationRules().size() + 1);
  EXPECT_EQ(both.rule(both.size() - 1).origin, "t.toml:1");
}

}  // namespace
}  // namespace volley::adaptive
