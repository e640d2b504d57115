#include "engine/smtp/dot_stuffing.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

constexpr absl::string_view kPipelined = "QUIT\r\n";

struct UnstuffCase {
  std::string data;  // DATA content through the terminator
  std::string want;  // the message
};

const std::vector<UnstuffCase>& UnstuffCases() {
  static const auto* cases = new std::vector<UnstuffCase>{
      {"a\r\n.\r\n", "a\r\n"},
      {".\r\n", ""},             // the first line counts as following a CRLF
      {"..\r\n.\r\n", ".\r\n"},  // dot at the start of the first line
      {"..foo\r\n.\r\n", ".foo\r\n"},
      {".foo\r\n.\r\n", "foo\r\n"},  // an unstuffed leading dot is still removed
      {"a\r\n..\r\n.\r\n", "a\r\n.\r\n"},
      {"a\r\n...\r\n.\r\n", "a\r\n..\r\n"},
      {"a\r\n. \r\n.\r\n", "a\r\n \r\n"},
      {"a.\r\n.b\r\n.\r\n", "a.\r\nb\r\n"},
      {"a\nb\r\n.\r\n", "a\r\nb\r\n"},           // bare LF lines become CRLF lines
      {"a\n.x\r\n.\r\n", "a\r\nx\r\n"},          // a dot after a bare LF is stuffing
      {"a\n.\r\n.\r\n", "a\r\n\r\n"},            // ... and never ends the data
      {"a\r\n.\nb\r\n.\r\n", "a\r\n\r\nb\r\n"},  // nor does ".\n"
      {"\n\n\r\n.\r\n", "\r\n\r\n\r\n"},
      {"\r\n\r\n.\r\n", "\r\n\r\n"},
      {"a\rb\r\n.\r\n", "a\rb\r\n"},  // a bare CR is content
      {"a\r\r\n.\r\n", "a\r\r\n"},
      {"\r\r\n.\r\n", "\r\r\n"},
      {"a\r.\r\n.\r\n", "a\r.\r\n"},  // "\r." is not a line start
      {".\r\r\n.\r\n", "\r\r\n"},
      {".\rx\r\n.\r\n", "\rx\r\n"},
      {"..\rx\r\n.\r\n", ".\rx\r\n"},
      {"Subject: hi\r\n\r\nline 1\r\n..hidden\r\n\r\n.\r\n",
       "Subject: hi\r\n\r\nline 1\r\n.hidden\r\n\r\n"},
  };
  return *cases;
}

struct Fed {
  std::string out;
  size_t consumed = 0;
  bool done = false;
  size_t total_size = 0;
  bool overflowed = false;
};

// Feeds `input` in pieces cut at `cuts` (ascending offsets), stopping once done.
Fed FeedInPieces(absl::string_view input, const std::vector<size_t>& cuts,
                 size_t max_size = 1 << 20) {
  DotUnstuffer unstuffer(max_size);
  Fed fed;
  size_t pos = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    const absl::string_view piece = input.substr(pos, end - pos);
    const size_t n = unstuffer.Feed(piece, &fed.out);
    EXPECT_LE(n, piece.size());
    fed.consumed += n;
    pos = end;
    if (unstuffer.done()) {
      EXPECT_EQ(unstuffer.Feed("more", &fed.out), 0u);  // nothing after the end
      break;
    }
    EXPECT_EQ(n, piece.size());
  }
  fed.done = unstuffer.done();
  fed.total_size = unstuffer.total_size();
  fed.overflowed = unstuffer.overflowed();
  return fed;
}

TEST(DotUnstufferTest, OneFeed) {
  for (const UnstuffCase& c : UnstuffCases()) {
    SCOPED_TRACE(testing::PrintToString(c.data));
    const std::string input = c.data + std::string(kPipelined);
    const Fed fed = FeedInPieces(input, {});
    EXPECT_TRUE(fed.done);
    EXPECT_EQ(fed.out, c.want);
    EXPECT_EQ(fed.consumed, c.data.size());  // the pipelined QUIT is left for the session
    EXPECT_EQ(fed.total_size, c.want.size());
    EXPECT_FALSE(fed.overflowed);
  }
}

TEST(DotUnstufferTest, SplitAnywhereIntoTwoFeeds) {
  for (const UnstuffCase& c : UnstuffCases()) {
    const std::string input = c.data + std::string(kPipelined);
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      SCOPED_TRACE(testing::PrintToString(c.data) + " cut at " + std::to_string(cut));
      const Fed fed = FeedInPieces(input, {cut});
      EXPECT_TRUE(fed.done);
      EXPECT_EQ(fed.out, c.want);
      EXPECT_EQ(fed.consumed, c.data.size());
    }
  }
}

TEST(DotUnstufferTest, OneByteAtATime) {
  for (const UnstuffCase& c : UnstuffCases()) {
    SCOPED_TRACE(testing::PrintToString(c.data));
    const std::string input = c.data + std::string(kPipelined);
    std::vector<size_t> cuts;
    for (size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
    const Fed fed = FeedInPieces(input, cuts);
    EXPECT_TRUE(fed.done);
    EXPECT_EQ(fed.out, c.want);
    EXPECT_EQ(fed.consumed, c.data.size());
  }
}

TEST(DotUnstufferTest, TerminatorSplitAcrossFeeds) {
  DotUnstuffer unstuffer(1000);
  std::string out;
  EXPECT_EQ(unstuffer.Feed("body\r\n", &out), 6u);
  EXPECT_EQ(unstuffer.Feed(".", &out), 1u);
  EXPECT_FALSE(unstuffer.done());
  EXPECT_EQ(unstuffer.Feed("\r", &out), 1u);
  EXPECT_FALSE(unstuffer.done());
  EXPECT_EQ(unstuffer.Feed("\nRSET\r\n", &out), 1u);
  EXPECT_TRUE(unstuffer.done());
  EXPECT_EQ(out, "body\r\n");
}

TEST(DotUnstufferTest, NotDoneWithoutTerminator) {
  DotUnstuffer unstuffer(1000);
  std::string out;
  EXPECT_EQ(unstuffer.Feed("a\r\nb\r", &out), 5u);
  EXPECT_FALSE(unstuffer.done());
  EXPECT_EQ(out, "a\r\nb");  // the CR waits for its LF
  EXPECT_EQ(unstuffer.total_size(), 4u);
  EXPECT_EQ(unstuffer.Feed("x", &out), 1u);
  EXPECT_EQ(out, "a\r\nb\rx");
  EXPECT_EQ(unstuffer.Feed("\r\n.x\r\n", &out), 6u);  // ".x" is a stuffed line, not the end
  EXPECT_FALSE(unstuffer.done());
  EXPECT_EQ(out, "a\r\nb\rx\r\nx\r\n");
}

TEST(DotUnstufferTest, OverflowKeepsReadingToTheEnd) {
  DotUnstuffer unstuffer(10);
  std::string out;
  const std::string body = "0123456789\r\n0123456789\r\n..dot\r\n";
  const std::string input = body + ".\r\nQUIT\r\n";
  // A CR at the end of a feed waits for the next byte, so the cap is not passed yet.
  EXPECT_EQ(unstuffer.Feed(input.substr(0, 11), &out), 11u);
  EXPECT_FALSE(unstuffer.overflowed());
  EXPECT_EQ(unstuffer.Feed(input.substr(11, 1), &out), 1u);
  EXPECT_TRUE(unstuffer.overflowed());  // "0123456789\r\n" is 12 octets
  EXPECT_FALSE(unstuffer.done());
  EXPECT_EQ(unstuffer.Feed(input.substr(12), &out), input.size() - 12 - kPipelined.size());
  EXPECT_TRUE(unstuffer.done());
  EXPECT_TRUE(unstuffer.overflowed());
  EXPECT_EQ(out, "0123456789");                        // never more than the cap
  EXPECT_EQ(unstuffer.total_size(), body.size() - 1);  // one stuffed dot removed
}

TEST(DotUnstufferTest, ExactlyAtTheCapIsNoOverflow) {
  DotUnstuffer unstuffer(5);
  std::string out;
  unstuffer.Feed("abc\r\n.\r\n", &out);
  EXPECT_TRUE(unstuffer.done());
  EXPECT_FALSE(unstuffer.overflowed());
  EXPECT_EQ(out, "abc\r\n");

  DotUnstuffer small(4);
  out.clear();
  small.Feed("abc\r\n.\r\n", &out);
  EXPECT_TRUE(small.done());
  EXPECT_TRUE(small.overflowed());
  EXPECT_EQ(out, "abc\r");
  EXPECT_EQ(small.total_size(), 5u);
}

TEST(DotUnstufferTest, ResetStartsAFreshMessage) {
  DotUnstuffer unstuffer(4);
  std::string out;
  unstuffer.Feed("too long\r\n.\r\n", &out);
  ASSERT_TRUE(unstuffer.done());
  ASSERT_TRUE(unstuffer.overflowed());
  unstuffer.Reset();
  EXPECT_FALSE(unstuffer.done());
  EXPECT_FALSE(unstuffer.overflowed());
  EXPECT_EQ(unstuffer.total_size(), 0u);
  out.clear();
  EXPECT_EQ(unstuffer.Feed("..\r\n.\r\n", &out), 7u);
  EXPECT_TRUE(unstuffer.done());
  EXPECT_EQ(out, ".\r\n");
}

TEST(DotUnstufferTest, ReadsMidLineStateAfterReset) {
  DotUnstuffer unstuffer(100);
  std::string out;
  unstuffer.Feed("abc", &out);  // mid-line
  unstuffer.Reset();
  out.clear();
  EXPECT_EQ(unstuffer.Feed(".\r\n", &out), 3u);  // a line start again
  EXPECT_TRUE(unstuffer.done());
  EXPECT_EQ(out, "");
}

struct StuffCase {
  std::string body;
  std::string want;
};

TEST(DotStuffTest, Table) {
  const StuffCase cases[] = {
      {"", ".\r\n"},
      {"a", "a\r\n.\r\n"},
      {"a\r\n", "a\r\n.\r\n"},
      {"a\n", "a\r\n.\r\n"},
      {"a\r", "a\r\n.\r\n"},
      {".", "..\r\n.\r\n"},
      {".a\r\n", "..a\r\n.\r\n"},
      {"..\r\n", "...\r\n.\r\n"},
      {"a.b\r\n", "a.b\r\n.\r\n"},
      {"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
      {"a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n"},
      {"a\r.b", "a\r\n..b\r\n.\r\n"},
      {"\n.", "\r\n..\r\n.\r\n"},
      {"\n\n", "\r\n\r\n.\r\n"},
      {"\r\r\n", "\r\n\r\n.\r\n"},
      {"\r\n\r", "\r\n\r\n.\r\n"},
      {"\n\r", "\r\n\r\n.\r\n"},
      {"x\r\n.\r\n.\r\n", "x\r\n..\r\n..\r\n.\r\n"},
  };
  for (const StuffCase& c : cases) {
    std::string out = "prefix";
    DotStuff(c.body, &out);
    EXPECT_EQ(out, "prefix" + c.want) << testing::PrintToString(c.body);
  }
}

TEST(NormalizeCrlfTest, Table) {
  const StuffCase cases[] = {
      {"", ""},
      {"a", "a"},
      {"a\r\nb", "a\r\nb"},
      {"a\nb\n", "a\r\nb\r\n"},
      {"a\rb\r", "a\r\nb\r\n"},
      {"\r\r\n\n", "\r\n\r\n\r\n"},
      {".a\n.", ".a\r\n."},  // no stuffing
  };
  for (const StuffCase& c : cases) {
    std::string out = "x";
    NormalizeCrlf(c.body, &out);
    EXPECT_EQ(out, "x" + c.want) << testing::PrintToString(c.body);
  }
}

// Reference for the round trip: the body as the server must store it.
std::string NormalizedWithFinalCrlf(absl::string_view body) {
  std::string out;
  NormalizeCrlf(body, &out);
  if (!out.empty() && !absl::EndsWith(out, "\r\n")) {
    out.append("\r\n");
  }
  return out;
}

TEST(DotStuffingTest, RandomRoundTrips) {
  std::mt19937 rng(20240607);
  const char alphabet[] = {'.', '.', '\r', '\n', 'a', 'b', ' '};
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string body;
    const size_t length = rng() % 40;
    for (size_t i = 0; i < length; ++i) body.push_back(alphabet[rng() % sizeof(alphabet)]);
    std::string wire;
    DotStuff(body, &wire);
    const std::string input = wire + std::string(kPipelined);
    std::vector<size_t> cuts;
    for (size_t pos = rng() % 5; pos < input.size(); pos += 1 + rng() % 7) cuts.push_back(pos);
    const Fed fed = FeedInPieces(input, cuts);
    SCOPED_TRACE(testing::PrintToString(body));
    ASSERT_TRUE(fed.done);
    EXPECT_EQ(fed.consumed, wire.size());
    EXPECT_EQ(fed.out, NormalizedWithFinalCrlf(body));
  }
}

TEST(DotStuffingTest, LargeBodyRoundTrip) {
  std::string body;
  for (int i = 0; i < 20000; ++i) {
    body.append(i % 7 == 0 ? ".line " : "line ");
    body.append(std::to_string(i));
    body.append(i % 3 == 0 ? "\n" : "\r\n");
  }
  std::string wire;
  DotStuff(body, &wire);
  DotUnstuffer unstuffer(body.size() * 2);
  std::string out;
  size_t consumed = 0;
  for (size_t pos = 0; pos < wire.size() && !unstuffer.done(); pos += 4096) {
    consumed += unstuffer.Feed(absl::string_view(wire).substr(pos, 4096), &out);
  }
  EXPECT_TRUE(unstuffer.done());
  EXPECT_EQ(consumed, wire.size());
  EXPECT_EQ(out, NormalizedWithFinalCrlf(body));
  EXPECT_EQ(unstuffer.total_size(), out.size());
}

}  // namespace
}  // namespace volley::smtp

namespace volley::smtp {
namespace {

// SMTP smuggling: a sender that ends its data with a non-standard sequence, followed by what
// looks like a second transaction, must not get that second transaction through us.
TEST(DotUnstufferSmuggling, OnlyCrlfDotCrlfEndsTheData) {
  for (absl::string_view fake_end : {"\r\n.\n", "\n.\r\n", "\n.\n", "\r.\r\n"}) {
    const std::string data =
        absl::StrCat("Subject: a\r\n\r\nhello", fake_end,
                     "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nsmuggled\r\n.\r\nQUIT\r\n");
    DotUnstuffer unstuffer(1 << 20);
    std::string out;
    const size_t consumed = unstuffer.Feed(data, &out);
    ASSERT_TRUE(unstuffer.done()) << absl::CEscape(fake_end);
    // The fake end and the "commands" are content; the data ends only at the real CRLF.CRLF.
    EXPECT_TRUE(absl::StrContains(out, "MAIL FROM:<evil@x>\r\n")) << absl::CEscape(fake_end);
    EXPECT_TRUE(absl::StrContains(out, "smuggled\r\n")) << absl::CEscape(fake_end);
    EXPECT_EQ(data.substr(consumed), "QUIT\r\n") << absl::CEscape(fake_end);
  }
}

TEST(DotUnstufferSmuggling, DotLineAfterBareLfSplitAcrossFeeds) {
  DotUnstuffer unstuffer(1 << 20);
  std::string out;
  unstuffer.Feed("a\n", &out);
  unstuffer.Feed(".", &out);
  unstuffer.Feed("\r\n", &out);
  EXPECT_FALSE(unstuffer.done());
  unstuffer.Feed(".\n", &out);
  EXPECT_FALSE(unstuffer.done());
  unstuffer.Feed("b\r\n.\r\n", &out);
  EXPECT_TRUE(unstuffer.done());
  EXPECT_EQ(out, "a\r\n\r\n\r\nb\r\n");
}

}  // namespace
}  // namespace volley::smtp
