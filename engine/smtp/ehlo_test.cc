#include "engine/smtp/ehlo.h"

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/reply_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Parses wire lines (without CRLF) into a Reply as the client would.
Reply ParseLines(std::initializer_list<absl::string_view> lines) {
  ReplyParser parser;
  for (absl::string_view line : lines) {
    const ReplyParser::Result result = parser.FeedLine(line);
    EXPECT_NE(result, ReplyParser::Result::kError) << parser.error();
  }
  return parser.Take();
}

TEST(ParseEhloReplyTest, PostfixStyle) {
  const Capabilities caps = ParseEhloReply(ParseLines({
      "250-mx.example.com",
      "250-PIPELINING",
      "250-SIZE 10240000",
      "250-VRFY",
      "250-ETRN",
      "250-STARTTLS",
      "250-AUTH PLAIN LOGIN",
      "250-AUTH=PLAIN LOGIN",
      "250-ENHANCEDSTATUSCODES",
      "250-8BITMIME",
      "250-DSN",
      "250-SMTPUTF8",
      "250 CHUNKING",
  }));
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.size);
  EXPECT_EQ(caps.max_size, 10240000u);
  EXPECT_TRUE(caps.starttls);
  EXPECT_TRUE(caps.enhanced_status_codes);
  EXPECT_TRUE(caps.eightbitmime);
  EXPECT_TRUE(caps.dsn);
  EXPECT_TRUE(caps.smtputf8);
  EXPECT_TRUE(caps.chunking);
  EXPECT_FALSE(caps.binarymime);
  EXPECT_THAT(caps.auth_mechanisms, ElementsAre("PLAIN", "LOGIN"));  // no duplicates
}

TEST(ParseEhloReplyTest, GreetingOnlyMeansNothing) {
  const Capabilities caps = ParseEhloReply(ParseLines({"250 mx.example.com"}));
  EXPECT_FALSE(caps.pipelining);
  EXPECT_FALSE(caps.size);
  EXPECT_FALSE(caps.starttls);
  EXPECT_THAT(caps.auth_mechanisms, IsEmpty());
}

TEST(ParseEhloReplyTest, FirstLineIsTheGreetingEvenIfItLooksLikeAKeyword) {
  const Capabilities caps = ParseEhloReply(ParseLines({"250-PIPELINING", "250 8BITMIME"}));
  EXPECT_FALSE(caps.pipelining);
  EXPECT_TRUE(caps.eightbitmime);
}

TEST(ParseEhloReplyTest, CaseInsensitiveAndBlanks) {
  const Capabilities caps = ParseEhloReply(ParseLines({
      "250-hello",
      "250-pipelining",
      "250-  size\t5000  ",
      "250-Auth cram-md5 xoauth2",
      "250-auth=login",
      "250-BinaryMime",
      "250-",
      "250-X-UNKNOWN-THING 1 2 3",
      "250 StartTLS",
  }));
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.size);
  EXPECT_EQ(caps.max_size, 5000u);
  EXPECT_TRUE(caps.binarymime);
  EXPECT_TRUE(caps.starttls);
  EXPECT_THAT(caps.auth_mechanisms, ElementsAre("CRAM-MD5", "XOAUTH2", "LOGIN"));
}

struct SizeCase {
  const char* line;
  uint64_t max_size;
};

TEST(ParseEhloReplyTest, SizeValues) {
  const SizeCase cases[] = {
      {"250 SIZE", 0},
      {"250 SIZE 0", 0},
      {"250 SIZE 52428800", 52428800},
      {"250 SIZE 18446744073709551615", 18446744073709551615u},
      {"250 SIZE 18446744073709551616", 0},  // does not fit: treated as no limit
      {"250 SIZE lots", 0},
      {"250 SIZE -5", 0},
  };
  for (const SizeCase& c : cases) {
    const Capabilities caps = ParseEhloReply(ParseLines({"250-greeting", c.line}));
    EXPECT_TRUE(caps.size) << c.line;
    EXPECT_EQ(caps.max_size, c.max_size) << c.line;
  }
}

TEST(ParseEhloReplyTest, KeywordMustMatchWholeWord) {
  const Capabilities caps =
      ParseEhloReply(ParseLines({"250-greeting", "250-PIPELININGX", "250-SIZEX 10", "250 XDSN"}));
  EXPECT_FALSE(caps.pipelining);
  EXPECT_FALSE(caps.size);
  EXPECT_FALSE(caps.dsn);
}

TEST(ParseEhloReplyTest, NotA250MeansNoCapabilities) {
  const Capabilities caps =
      ParseEhloReply(ParseLines({"502-5.5.1 EHLO not supported", "502 5.5.1 PIPELINING"}));
  EXPECT_FALSE(caps.pipelining);
}

TEST(MakeEhloReplyTest, ParsesBackToWhatItOffers) {
  Capabilities offered;
  offered.pipelining = true;
  offered.size = true;
  offered.max_size = 26214400;
  offered.eightbitmime = true;
  offered.smtputf8 = true;
  offered.dsn = true;
  offered.chunking = true;
  offered.starttls = true;
  offered.enhanced_status_codes = true;
  offered.auth_mechanisms = {"PLAIN", "LOGIN"};
  const Reply reply = MakeEhloReply("mx.example", offered);
  EXPECT_EQ(reply.code, 250);
  EXPECT_EQ(reply.lines.front(), "mx.example");
  const Capabilities parsed = ParseEhloReply(reply);
  EXPECT_TRUE(parsed.pipelining);
  EXPECT_TRUE(parsed.size);
  EXPECT_EQ(parsed.max_size, 26214400u);
  EXPECT_TRUE(parsed.eightbitmime && parsed.smtputf8 && parsed.dsn && parsed.chunking);
  EXPECT_TRUE(parsed.starttls && parsed.enhanced_status_codes);
  EXPECT_FALSE(parsed.binarymime);
  EXPECT_EQ(parsed.auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));

  const Capabilities none = ParseEhloReply(MakeEhloReply("mx.example", Capabilities{}));
  EXPECT_FALSE(none.pipelining || none.size || none.starttls);
  EXPECT_TRUE(none.auth_mechanisms.empty());
}

}  // namespace
}  // namespace volley::smtp
