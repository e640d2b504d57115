#include "engine/smtp/reply_parser.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/line_reader.h"
#include "engine/smtp/reply.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Result = ReplyParser::Result;

struct OneLineCase {
  const char* line;
  int code;
  std::optional<EnhancedCode> enhanced;
  const char* text;
};

TEST(ReplyParserTest, OneLineReplies) {
  const OneLineCase cases[] = {
      {"250 Ok", 250, std::nullopt, "Ok"},
      {"250 2.0.0 Ok", 250, EnhancedCode{2, 0, 0}, "Ok"},
      {"250", 250, std::nullopt, ""},  // RFC 5321: text is optional on the last line
      {"250 ", 250, std::nullopt, ""},
      {"250 2.0.0", 250, EnhancedCode{2, 0, 0}, ""},
      {"250 2.0.0 ", 250, EnhancedCode{2, 0, 0}, ""},
      {"550 5.1.1 <x@y>: Recipient address rejected", 550, EnhancedCode{5, 1, 1},
       "<x@y>: Recipient address rejected"},
      {"421 4.3.2 Shutting down", 421, EnhancedCode{4, 3, 2}, "Shutting down"},
      // The class must repeat the code's first digit, else it is plain text.
      {"550 2.1.1 odd", 550, std::nullopt, "2.1.1 odd"},
      {"250 2.0.0x Ok", 250, std::nullopt, "2.0.0x Ok"},
      {"250 2.0 Ok", 250, std::nullopt, "2.0 Ok"},
      {"250 2.0.0  two spaces", 250, EnhancedCode{2, 0, 0}, " two spaces"},
      {"250  leading space", 250, std::nullopt, " leading space"},
      {"354 End data with <CR><LF>.<CR><LF>", 354, std::nullopt, "End data with <CR><LF>.<CR><LF>"},
      {"599 5.999.999 max", 599, EnhancedCode{5, 999, 999}, "max"},
      {"260 second digit 6 tolerated", 260, std::nullopt, "second digit 6 tolerated"},
  };
  for (const OneLineCase& c : cases) {
    SCOPED_TRACE(c.line);
    ReplyParser parser;
    ASSERT_EQ(parser.FeedLine(c.line), Result::kComplete);
    const Reply reply = parser.Take();
    EXPECT_EQ(reply.code, c.code);
    EXPECT_EQ(reply.enhanced, c.enhanced);
    EXPECT_THAT(reply.lines, ElementsAre(c.text));
  }
}

TEST(ReplyParserTest, MalformedLines) {
  const char* cases[] = {
      "",
      "25",
      "2",
      "abc Ok",
      "25a Ok",
      "2x0 Ok",
      "250xOk",
      "250_Ok",
      "250\tOk",
      "150 preliminary",
      "650 no such class",
      "099 no",
      " 250 Ok",
  };
  for (const char* line : cases) {
    SCOPED_TRACE(line);
    ReplyParser parser;
    EXPECT_EQ(parser.FeedLine(line), Result::kError);
    EXPECT_EQ(parser.error().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ReplyParserTest, ErrorQuotesTheLineEscaped) {
  ReplyParser parser;
  ASSERT_EQ(parser.FeedLine("xyz\x01"), Result::kError);
  EXPECT_THAT(parser.error().message(), HasSubstr("\"xyz\\x01\""));
}

TEST(ReplyParserTest, MultiLineEhlo) {
  ReplyParser parser;
  EXPECT_EQ(parser.FeedLine("250-mx.example.com Hello"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("250-PIPELINING"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("250-SIZE 10240000"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("250-"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("250 8BITMIME"), Result::kComplete);
  const Reply reply = parser.Take();
  EXPECT_EQ(reply.code, 250);
  EXPECT_FALSE(reply.enhanced.has_value());
  EXPECT_THAT(reply.lines,
              ElementsAre("mx.example.com Hello", "PIPELINING", "SIZE 10240000", "", "8BITMIME"));
}

TEST(ReplyParserTest, EnhancedCodeStrippedOnEachLine) {
  ReplyParser parser;
  EXPECT_EQ(parser.FeedLine("550-5.7.1 Message rejected"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("550-5.7.1 see https://example.com/"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("550 no code here"), Result::kComplete);
  const Reply reply = parser.Take();
  EXPECT_EQ(reply.enhanced, (EnhancedCode{5, 7, 1}));
  EXPECT_THAT(reply.lines,
              ElementsAre("Message rejected", "see https://example.com/", "no code here"));
  EXPECT_EQ(reply.Text(), "Message rejected see https://example.com/ no code here");
}

TEST(ReplyParserTest, EnhancedCodeOnlyFromFirstLine) {
  ReplyParser parser;
  EXPECT_EQ(parser.FeedLine("451-first"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("451 4.3.0 second"), Result::kComplete);
  const Reply reply = parser.Take();
  EXPECT_FALSE(reply.enhanced.has_value());
  EXPECT_THAT(reply.lines, ElementsAre("first", "second"));
}

TEST(ReplyParserTest, CodeChangeIsAnError) {
  ReplyParser parser;
  EXPECT_EQ(parser.FeedLine("250-first"), Result::kIncomplete);
  EXPECT_EQ(parser.FeedLine("251 second"), Result::kError);
  EXPECT_THAT(parser.error().message(), HasSubstr("250"));
}

TEST(ReplyParserTest, StaysInErrorUntilReset) {
  ReplyParser parser;
  ASSERT_EQ(parser.FeedLine("garbage"), Result::kError);
  EXPECT_EQ(parser.FeedLine("250 Ok"), Result::kError);
  EXPECT_FALSE(parser.error().ok());
  parser.Reset();
  EXPECT_TRUE(parser.error().ok());
  EXPECT_EQ(parser.FeedLine("250 Ok"), Result::kComplete);
  EXPECT_THAT(parser.Take().lines, ElementsAre("Ok"));
}

TEST(ReplyParserTest, ConsecutiveReplies) {
  ReplyParser parser;
  ASSERT_EQ(parser.FeedLine("250 2.1.0 Sender ok"), Result::kComplete);
  EXPECT_EQ(parser.Take(), MakeReply(250, "2.1.0", "Sender ok"));
  ASSERT_EQ(parser.FeedLine("550-5.1.1 No"), Result::kIncomplete);
  ASSERT_EQ(parser.FeedLine("550 5.1.1 such user"), Result::kComplete);
  EXPECT_EQ(parser.Take(), MakeReply(550, "5.1.1", "No\nsuch user"));
  ASSERT_EQ(parser.FeedLine("354 Go ahead"), Result::kComplete);
  EXPECT_EQ(parser.Take(), MakeReply(354, "", "Go ahead"));
}

TEST(ReplyParserTest, FeedingAfterCompleteStartsANewReply) {
  ReplyParser parser;
  ASSERT_EQ(parser.FeedLine("250 first"), Result::kComplete);
  // A different code is fine: the first reply is over.
  ASSERT_EQ(parser.FeedLine("354 second"), Result::kComplete);
  EXPECT_EQ(parser.Take(), MakeReply(354, "", "second"));
}

TEST(ReplyParserTest, LineLimit) {
  ReplyParser parser;
  for (size_t i = 0; i + 1 < ReplyParser::kMaxLines; ++i) {
    ASSERT_EQ(parser.FeedLine("250-x"), Result::kIncomplete) << i;
  }
  ASSERT_EQ(parser.FeedLine("250 x"), Result::kComplete);
  EXPECT_EQ(parser.Take().lines.size(), ReplyParser::kMaxLines);

  for (size_t i = 0; i < ReplyParser::kMaxLines; ++i) {
    ASSERT_EQ(parser.FeedLine("250-x"), Result::kIncomplete) << i;
  }
  EXPECT_EQ(parser.FeedLine("250 x"), Result::kError);
  EXPECT_THAT(parser.error().message(), HasSubstr("too many lines"));
}

TEST(ReplyParserTest, ByteLimit) {
  ReplyParser parser;
  const std::string line = "250-" + std::string(996, 'a');  // 1000 bytes + CRLF
  size_t fed = 0;
  Result result = Result::kIncomplete;
  while (result == Result::kIncomplete) {
    result = parser.FeedLine(line);
    fed += line.size() + 2;
  }
  EXPECT_EQ(result, Result::kError);
  EXPECT_GT(fed, ReplyParser::kMaxBytes);
  EXPECT_LE(fed - (line.size() + 2), ReplyParser::kMaxBytes);
  EXPECT_THAT(parser.error().message(), HasSubstr("64 KiB"));
}

// Splits `wire` into lines with a LineReader fed in pieces of `chunk` bytes and parses them.
std::vector<Reply> ParseWire(absl::string_view wire, size_t chunk) {
  LineReader reader(1000);
  ReplyParser parser;
  std::vector<Reply> replies;
  for (size_t pos = 0; pos < wire.size(); pos += chunk) {
    absl::string_view input = wire.substr(pos, chunk);
    absl::string_view line;
    while (true) {
      const LineReader::Status status = reader.Next(&input, &line);
      if (status == LineReader::Status::kNeedMore) break;
      EXPECT_EQ(status, LineReader::Status::kLine);
      const Result result = parser.FeedLine(line);
      EXPECT_NE(result, Result::kError) << parser.error();
      if (result == Result::kComplete) replies.push_back(parser.Take());
    }
  }
  return replies;
}

TEST(ReplyParserTest, RepliesSplitAcrossReadsInEveryWay) {
  const std::string wire =
      "250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 100\r\n"
      "250 2.1.0 Ok\r\n550-5.1.1 No such\r\n550 5.1.1 user\r\n354 go\r\n";
  const std::vector<Reply> want = {
      MakeReply(250, "", "mx.example.com\nPIPELINING\nSIZE 100"),
      MakeReply(250, "2.1.0", "Ok"),
      MakeReply(550, "5.1.1", "No such\nuser"),
      MakeReply(354, "", "go"),
  };
  for (size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    EXPECT_EQ(ParseWire(wire, chunk), want) << "chunk " << chunk;
  }
}

TEST(ReplyParserTest, RoundTripsToWire) {
  const Reply replies[] = {
      MakeReply(250, "2.0.0", "Ok: queued as 1234"),
      MakeReply(250, "", "mx\nPIPELINING\nSIZE 1000\n8BITMIME"),
      MakeReply(421, "4.3.2", "Service shutting down\nTry later"),
      MakeReply(250, "", ""),
      MakeReply(250, "2.0.0", ""),
      MakeReply(550, "5.1.1", "a\n\nb"),
  };
  for (const Reply& reply : replies) {
    const std::string wire = reply.ToWire();
    EXPECT_THAT(ParseWire(wire, wire.size()), ElementsAre(reply)) << wire;
  }
}

}  // namespace
}  // namespace volley::smtp
