#include "engine/message/message_tags.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley::message {
namespace {

TEST(CheckTag, AcceptsShortPlainValues) {
  for (const char* ok : {"acme", "Acme-Corp_2", "tenant.42", "a:b", "news@acme", "x+y", "7"}) {
    EXPECT_TRUE(CheckTag(ok).ok()) << ok;
  }
  EXPECT_TRUE(CheckTag(std::string(kMaxTagLength, 'a')).ok());
}

TEST(CheckTag, RefusesEmptyLongAndOtherCharactersQuotingTheValue) {
  const absl::Status empty = CheckTag("");
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(empty.message(), "\"\" is not 1 to 64")) << empty;
  EXPECT_FALSE(CheckTag(std::string(kMaxTagLength + 1, 'a')).ok());
  for (const char* bad : {"a b", "a/b", "a,b", "a\"b", "ä", "a\tb", "{x}"}) {
    EXPECT_EQ(CheckTag(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(CheckTag("a b").message(),
            "\"a b\" is not 1 to 64 of the characters A-Z a-z 0-9 . _ : @ + -");
}

TEST(ParsePriority, NamesAndDigits) {
  EXPECT_EQ(ParsePriority("high").value(), 8);
  EXPECT_EQ(ParsePriority("normal").value(), 5);
  EXPECT_EQ(ParsePriority("bulk").value(), 2);
  EXPECT_EQ(ParsePriority("HIGH").value(), 8);
  EXPECT_EQ(ParsePriority("Bulk").value(), 2);
  for (int digit = 0; digit <= 9; ++digit) {
    EXPECT_EQ(ParsePriority(std::string(1, static_cast<char>('0' + digit))).value(), digit);
  }
  EXPECT_EQ(kPriorityNormal, MessageTags().priority);
}

TEST(ParsePriority, RefusesEverythingElse) {
  for (const char* bad : {"", "10", "-1", "urgent", "5 ", " 5", "low", "normally", "1.0"}) {
    const absl::StatusOr<uint8_t> parsed = ParsePriority(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParsePriority("urgent").status().message(),
            "\"urgent\" is not a priority (high, normal, bulk or a digit 0 to 9)");
}

TEST(IsFieldName, PrintableAsciiWithoutColon) {
  EXPECT_TRUE(IsFieldName("X-Volley-Tenant"));
  EXPECT_TRUE(IsFieldName("x_tenant!#$"));
  EXPECT_FALSE(IsFieldName(""));
  EXPECT_FALSE(IsFieldName("X Tenant"));
  EXPECT_FALSE(IsFieldName("X-Tenant:"));
  EXPECT_FALSE(IsFieldName("X-T\xc3\xa9nant"));
  EXPECT_FALSE(IsFieldName("X-\x7f"));
}

TEST(QuoteForMessage, EscapesAndShortens) {
  EXPECT_EQ(QuoteForMessage("plain"), "\"plain\"");
  EXPECT_EQ(QuoteForMessage("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteForMessage("\r\n\x01\xff"), "\"\\x0d\\x0a\\x01\\xff\"");
  const std::string quoted = QuoteForMessage(std::string(200, 'z'));
  EXPECT_EQ(quoted, "\"" + std::string(kMaxTagLength, 'z') + "\"...");
}

}  // namespace
}  // namespace volley::message
