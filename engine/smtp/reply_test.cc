#include "engine/smtp/reply.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;

TEST(EnhancedCodeTest, ToString) {
  EXPECT_EQ((EnhancedCode{5, 1, 1}).ToString(), "5.1.1");
  EXPECT_EQ((EnhancedCode{2, 0, 0}).ToString(), "2.0.0");
  EXPECT_EQ((EnhancedCode{4, 123, 999}).ToString(), "4.123.999");
}

struct EnhancedCase {
  const char* text;
  std::optional<EnhancedCode> want;
};

TEST(ParseEnhancedCodeTest, Table) {
  const EnhancedCase cases[] = {
      {"2.0.0", EnhancedCode{2, 0, 0}},
      {"5.1.1", EnhancedCode{5, 1, 1}},
      {"4.7.123", EnhancedCode{4, 7, 123}},
      {"5.123.999", EnhancedCode{5, 123, 999}},
      {"5.01.002", EnhancedCode{5, 1, 2}},
      {"", std::nullopt},
      {"1.0.0", std::nullopt},  // no class 1 or 3 in RFC 3463
      {"3.0.0", std::nullopt},
      {"6.1.1", std::nullopt},
      {"5.1", std::nullopt},
      {"5.1.1.1", std::nullopt},
      {"5..1", std::nullopt},
      {"5.1.", std::nullopt},
      {".1.1", std::nullopt},
      {"5.1234.1", std::nullopt},
      {"5.1.1234", std::nullopt},
      {"5.a.1", std::nullopt},
      {" 5.1.1", std::nullopt},
      {"5.1.1 ", std::nullopt},
      {"25.1.1", std::nullopt},
      {"5-1-1", std::nullopt},
      {"5.+1.1", std::nullopt},
  };
  for (const EnhancedCase& c : cases) {
    EXPECT_EQ(ParseEnhancedCode(c.text), c.want) << "\"" << c.text << "\"";
  }
}

TEST(ReplyTest, SummaryIsCodeEnhancedCodeAndText) {
  EXPECT_EQ(MakeReply(421, "4.7.0", "Too many connections").Summary(),
            "421 4.7.0 Too many connections");
  EXPECT_EQ(MakeReply(450, "", "busy").Summary(), "450 busy");
  EXPECT_EQ(MakeReply(250, "", "a\nb").Summary(), "250 a b");
}

TEST(ReplyTest, Classes) {
  EXPECT_TRUE(MakeReply(250, "", "ok").IsPositive());
  EXPECT_TRUE(MakeReply(354, "", "go").IsPositive());
  EXPECT_FALSE(MakeReply(250, "", "ok").IsTransient());
  EXPECT_TRUE(MakeReply(421, "4.3.2", "bye").IsTransient());
  EXPECT_FALSE(MakeReply(421, "4.3.2", "bye").IsPermanent());
  EXPECT_TRUE(MakeReply(550, "5.1.1", "no").IsPermanent());
  EXPECT_FALSE(MakeReply(550, "5.1.1", "no").IsPositive());
}

TEST(MakeReplyTest, OneLine) {
  const Reply reply = MakeReply(250, "2.1.0", "Ok");
  EXPECT_EQ(reply.code, 250);
  EXPECT_EQ(reply.enhanced, (EnhancedCode{2, 1, 0}));
  EXPECT_THAT(reply.lines, ElementsAre("Ok"));
  EXPECT_EQ(reply.ToWire(), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(reply.Text(), "Ok");
}

TEST(MakeReplyTest, NoEnhancedCode) {
  const Reply reply = MakeReply(220, "", "mx.example.com ESMTP");
  EXPECT_FALSE(reply.enhanced.has_value());
  EXPECT_EQ(reply.ToWire(), "220 mx.example.com ESMTP\r\n");
}

TEST(MakeReplyTest, NewlinesMakeLines) {
  const Reply reply = MakeReply(250, "", "mx.example.com\nPIPELINING\r\nSIZE 1000");
  EXPECT_THAT(reply.lines, ElementsAre("mx.example.com", "PIPELINING", "SIZE 1000"));
  EXPECT_EQ(reply.ToWire(), "250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  EXPECT_EQ(reply.Text(), "mx.example.com PIPELINING SIZE 1000");
}

TEST(MakeReplyTest, TrailingNewlineAddsNoEmptyLine) {
  EXPECT_THAT(MakeReply(250, "", "a\nb\n").lines, ElementsAre("a", "b"));
  EXPECT_THAT(MakeReply(250, "", "a\n\nb").lines, ElementsAre("a", "", "b"));
}

TEST(MakeReplyTest, EmptyText) {
  const Reply reply = MakeReply(250, "", "");
  EXPECT_THAT(reply.lines, ElementsAre(""));
  EXPECT_EQ(reply.ToWire(), "250\r\n");
  EXPECT_EQ(MakeReply(250, "2.0.0", "").ToWire(), "250 2.0.0\r\n");
}

TEST(ToWireTest, EnhancedCodeOnEveryLine) {
  Reply reply;
  reply.code = 550;
  reply.enhanced = EnhancedCode{5, 7, 1};
  reply.lines = {"first", "second", "last"};
  EXPECT_EQ(reply.ToWire(), "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n");
}

TEST(ToWireTest, NoLinesStillWritesOne) {
  Reply reply;
  reply.code = 354;
  EXPECT_EQ(reply.ToWire(), "354\r\n");
  EXPECT_EQ(reply.Text(), "");
}

TEST(ToWireTest, EmptyContinuationLine) {
  Reply reply;
  reply.code = 250;
  reply.lines = {"", "x"};
  EXPECT_EQ(reply.ToWire(), "250-\r\n250 x\r\n");
}

TEST(ToWireTest, NewlineInsideALineSplitsIt) {
  Reply reply;
  reply.code = 451;
  reply.enhanced = EnhancedCode{4, 3, 0};
  reply.lines = {"a\r\nb", "c"};
  EXPECT_EQ(reply.ToWire(), "451-4.3.0 a\r\n451-4.3.0 b\r\n451 4.3.0 c\r\n");
}

TEST(ToWireTest, StrayCarriageReturnCannotEndALine) {
  // Reply text can echo client input; a lone CR must not reach the wire.
  Reply reply = MakeReply(501, "5.1.3", "bad <a\rb@c>");
  EXPECT_EQ(reply.ToWire(), "501 5.1.3 bad <a b@c>\r\n");
  reply.lines = {"trailing\r"};
  EXPECT_EQ(reply.ToWire(), "501 5.1.3 trailing\r\n");
}

TEST(ReplyTest, Equality) {
  EXPECT_EQ(MakeReply(250, "2.0.0", "Ok"), MakeReply(250, "2.0.0", "Ok"));
  EXPECT_NE(MakeReply(250, "2.0.0", "Ok"), MakeReply(250, "", "Ok"));
  EXPECT_NE(MakeReply(250, "2.0.0", "Ok"), MakeReply(251, "2.0.0", "Ok"));
  EXPECT_NE(MakeReply(250, "2.0.0", "Ok"), MakeReply(250, "2.0.0", "Ok\nmore"));
}

}  // namespace
}  // namespace volley::smtp
