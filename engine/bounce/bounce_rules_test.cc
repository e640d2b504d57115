// The shipped bounce rules against a table of real-world replies (testdata/replies.tsv, over a
// hundred, from the large providers and common MTAs), the order of the three steps, an
// operator's file on top, and every kind of mistake in a rules file with its line.
#include "engine/bounce/bounce_rules.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

// "550 5.1.1 text" as the delivery client parses it: the code, an enhanced code when the
// second word is one, the rest.
smtp::Reply ParseReply(absl::string_view line) {
  int code = 0;
  const std::vector<absl::string_view> words = absl::StrSplit(line, absl::MaxSplits(' ', 2));
  EXPECT_TRUE(absl::SimpleAtoi(words[0], &code)) << line;
  if (words.size() > 1 && smtp::ParseEnhancedCode(words[1]).has_value() &&
      words[1][0] == words[0][0]) {
    return smtp::MakeReply(code, words[1], words.size() > 2 ? words[2] : "");
  }
  return smtp::MakeReply(code, "", line.size() > 4 ? line.substr(4) : "");
}

absl::string_view Name(const BounceRules& rules, absl::string_view reply) {
  return BounceClassName(rules.Classify(ParseReply(reply)));
}

TEST(BounceRules, TheShippedRulesClassifyRealWorldReplies) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  ASSERT_NE(srcdir, nullptr);
  std::ifstream in(absl::StrCat(srcdir, "/volley/engine/bounce/testdata/replies.tsv"));
  ASSERT_TRUE(in.good());
  const BounceRules& rules = BounceRules::Shipped();
  int checked = 0;
  std::vector<bool> seen(kBounceClassCount, false);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    ASSERT_EQ(parts.size(), 2u) << line;
    ASSERT_TRUE(ParseBounceClass(parts[0]).has_value()) << parts[0];
    EXPECT_EQ(Name(rules, parts[1]), parts[0]) << parts[1];
    seen[static_cast<size_t>(*ParseBounceClass(parts[0]))] = true;
    ++checked;
  }
  EXPECT_GE(checked, 100);
  int classes = 0;
  for (bool s : seen) classes += s;
  EXPECT_GE(classes, 20) << "the table covers most classes";
}

TEST(BounceRules, CodesFirstThenTextThenFallback) {
  const BounceRules& rules = BounceRules::Shipped();
  // A decisive code wins over any text.
  EXPECT_EQ(Name(rules, "550 5.1.1 blocked using spamhaus"), "InvalidRecipient");
  // A generic code leaves it to the text...
  EXPECT_EQ(Name(rules, "550 5.7.1 listed at spamhaus"), "SpamBlock");
  // ...and says what it means when no text rule knows better.
  EXPECT_EQ(Name(rules, "550 5.7.1 no"), "PolicyRelated");
  EXPECT_EQ(Name(rules, "554 5.6.3 conversion needed"), "ContentRelated");
  EXPECT_EQ(Name(rules, "451 try again"), "TransientFailure");
  EXPECT_EQ(Name(rules, "554 go away"), "Uncategorized");
  // 5.1.10 is null MX by RFC 7505, and Microsoft's unknown recipient by its text.
  EXPECT_EQ(Name(rules, "556 5.1.10 null MX"), "BadDomain");
  EXPECT_EQ(Name(rules, "556 5.1.10 whatever"), "BadDomain");
  EXPECT_EQ(Name(rules, "550 5.1.10 RESOLVER.ADR.RecipientNotFound"), "InvalidRecipient");
  // Regexes are case-insensitive and see the code too.
  EXPECT_EQ(Name(rules, "550 USER UNKNOWN"), "InvalidRecipient");
}

TEST(BounceRules, AnOperatorsFileGoesOnTop) {
  absl::StatusOr<BounceRules> mine = BounceRules::Parse(R"toml(
[codes]
"5.1.1" = "InactiveMailbox"
[[rule]]
class = "QuotaIssues"
regex = ['^550 5\.7\.1 .*over the limit']
[fallback]
"5xx" = "PolicyRelated"
"599" = "BadConnection"
)toml",
                                                        "mine.toml");
  ASSERT_TRUE(mine.ok()) << mine.status();
  const BounceRules layered = BounceRules::Layer(BounceRules::Shipped(), *mine);
  EXPECT_EQ(Name(layered, "550 5.1.1 no such user"), "InactiveMailbox");
  EXPECT_EQ(Name(layered, "550 5.7.1 you are over the limit, see spamhaus"), "QuotaIssues");
  EXPECT_EQ(Name(layered, "550 5.7.1 listed at spamhaus"), "SpamBlock");  // the shipped rule
  EXPECT_EQ(Name(layered, "554 go away"), "PolicyRelated");
  EXPECT_EQ(Name(layered, "599 odd"), "BadConnection");
  EXPECT_EQ(layered.rule_count(), BounceRules::Shipped().rule_count() + 1);
  // The shipped rules themselves are untouched.
  EXPECT_EQ(Name(BounceRules::Shipped(), "550 5.1.1 no such user"), "InvalidRecipient");
}

TEST(BounceRules, MistakesAreReportedWithTheirLines) {
  absl::StatusOr<BounceRules> bad = BounceRules::Parse(R"toml([codes]
"5.1" = "InvalidRecipient"
"5.1.1" = "NoSuchClass"
[[rule]]
class = "SpamBlock"
regex = ['(unclosed']
[[rule]]
regex = ['x']
colour = "red"
[fallback]
"6xx" = "Uncategorized"
[other]
)toml",
                                                       "r.toml");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  for (const char* want : {
           "r.toml:2: [codes] \"5.1\": expected an enhanced status code",
           "r.toml:3: [codes] \"5.1.1\": expected one of the 29 bounce class names",
           "r.toml:6: [[rule]] regex \"(unclosed\" is not a valid RE2 regex",
           "r.toml:7: [[rule]]: missing key 'class'",
           "r.toml:9: unknown key 'colour' in [[rule]]",
           "r.toml:11: [fallback] \"6xx\": expected",
           "r.toml:12: unknown key 'other'",
       }) {
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
  }
  EXPECT_FALSE(BounceRules::Parse("[codes\n", "r.toml").ok());
  EXPECT_NE(std::string(BounceRules::Parse("[codes\n", "r.toml").status().message())
                .find("r.toml:1: TOML syntax error"),
            std::string::npos);
}

}  // namespace
}  // namespace volley::bounce
