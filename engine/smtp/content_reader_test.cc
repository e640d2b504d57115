#include "engine/smtp/content_reader.h"

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using End = ContentReader::End;

// Feeds `input` one octet at a time, as a slow client sends it, until the reader is finished;
// returns what is left and adds the octets counted to *counted.
std::string FeedByteByByte(ContentReader* reader, absl::string_view input, size_t* counted) {
  while (!input.empty() && !reader->finished()) {
    absl::string_view one = input.substr(0, 1);
    *counted += reader->Feed(&one);
    EXPECT_TRUE(one.empty());
    input.remove_prefix(1);
  }
  return std::string(input);
}

TEST(ParseBdatArgument, SizeAndLast) {
  std::optional<BdatArgument> bdat = ParseBdatArgument("10");
  ASSERT_TRUE(bdat.has_value());
  EXPECT_EQ(bdat->size, 10u);
  EXPECT_FALSE(bdat->last);
  bdat = ParseBdatArgument(" 0 \tlast ");
  ASSERT_TRUE(bdat.has_value());
  EXPECT_EQ(bdat->size, 0u);
  EXPECT_TRUE(bdat->last);
  bdat = ParseBdatArgument("18446744073709551615 LAST");
  ASSERT_TRUE(bdat.has_value());
  EXPECT_EQ(bdat->size, 18446744073709551615u);
  // Leading zeros are digits like any other, up to 20 of them.
  bdat = ParseBdatArgument("00000000000000000007");
  ASSERT_TRUE(bdat.has_value());
  EXPECT_EQ(bdat->size, 7u);
}

TEST(ParseBdatArgument, Malformed) {
  for (const char* bad :
       {"", " ", "LAST", "x", "-1", "+1", "1.5", "10 NOTLAST", "5 LAST more", "5 5",
        "123456789012345678901", "000000000000000000001", "18446744073709551616"}) {
    EXPECT_FALSE(ParseBdatArgument(bad).has_value()) << bad;
  }
}

TEST(ContentReader, DataIsUnstuffedUpToTheEndLine) {
  ContentReader reader(1000);
  reader.StartMessage(0);
  reader.StartData();
  EXPECT_FALSE(reader.finished());
  absl::string_view input = "..a\r\nb\nc\r\n.\r\nQUIT\r\n";
  EXPECT_EQ(reader.Feed(&input), 13u);  // the wire octets, end line included
  EXPECT_EQ(input, "QUIT\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kMessage);
  EXPECT_EQ(reader.wire_bytes(), 13u);
  EXPECT_EQ(reader.TakeContent(), ".a\r\nb\r\nc\r\n");
  EXPECT_EQ(reader.TakeContent(), "");
}

TEST(ContentReader, DataInPieces) {
  ContentReader reader(1000);
  reader.StartMessage(0);
  reader.StartData();
  size_t counted = 0;
  EXPECT_EQ(FeedByteByByte(&reader, "line\r\n.\r\nNOOP\r\n", &counted), "NOOP\r\n");
  EXPECT_EQ(counted, 9u);
  EXPECT_EQ(reader.wire_bytes(), 9u);
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kMessage);
  EXPECT_EQ(reader.TakeContent(), "line\r\n");
}

TEST(ContentReader, DataOverTheLimitIsReadToItsEnd) {
  ContentReader reader(10);
  reader.StartMessage(0);
  reader.StartData();
  absl::string_view input = "0123456789abcdef\r\n.\r\nNOOP\r\n";
  EXPECT_EQ(reader.Feed(&input), 21u);
  EXPECT_EQ(input, "NOOP\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kTooBig);
  // Exactly at the limit is fine: 8 octets and the CRLF that ends them.
  reader.StartMessage(0);
  reader.StartData();
  input = "01234567\r\n.\r\n";
  reader.Feed(&input);
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kMessage);
  EXPECT_EQ(reader.TakeContent(), "01234567\r\n");
}

TEST(ContentReader, StartMessageDropsWhatWasHeld) {
  ContentReader reader(1000);
  reader.StartMessage(0);
  reader.StartData();
  absl::string_view input = "abandoned";
  reader.Feed(&input);
  EXPECT_EQ(reader.wire_bytes(), 9u);
  // The client gave up (the session was reset) and starts again: nothing of it is kept.
  reader.StartMessage(100);
  EXPECT_EQ(reader.wire_bytes(), 0u);
  reader.StartData();
  input = "x\r\n.\r\n";
  reader.Feed(&input);
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.TakeContent(), "x\r\n");
}

TEST(ContentReader, ChunksAreTakenVerbatimAndJoined) {
  ContentReader reader(1000);
  reader.StartMessage(0);
  reader.StartChunk(7, /*last=*/false, /*discard=*/false);
  EXPECT_EQ(reader.chunk_size(), 7u);
  absl::string_view input = ".\r\n.\r\nxBDAT 3 LAST\r\n";
  EXPECT_EQ(reader.Feed(&input), 7u);
  EXPECT_EQ(input, "BDAT 3 LAST\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kChunk);
  reader.StartChunk(3, /*last=*/true, /*discard=*/false);
  EXPECT_EQ(reader.chunk_size(), 3u);
  size_t counted = 0;
  EXPECT_EQ(FeedByteByByte(&reader, std::string("\0\n\xff", 3) + "QUIT\r\n", &counted), "QUIT\r\n");
  EXPECT_EQ(counted, 3u);
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kMessage);
  EXPECT_EQ(reader.wire_bytes(), 10u);
  EXPECT_EQ(reader.TakeContent(), std::string(".\r\n.\r\nx\0\n\xff", 10));
}

TEST(ContentReader, AnEmptyChunkIsFinishedAtOnce) {
  ContentReader reader(1000);
  reader.StartMessage(0);
  reader.StartChunk(0, /*last=*/false, /*discard=*/false);
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kChunk);
  reader.StartChunk(0, /*last=*/true, /*discard=*/false);
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kMessage);
  EXPECT_EQ(reader.TakeContent(), "");
}

TEST(ContentReader, DiscardedChunksAreReadButNotCounted) {
  ContentReader reader(1000);
  reader.StartMessage(0);
  reader.StartChunk(2, /*last=*/false, /*discard=*/false);
  absl::string_view input = "ab";
  reader.Feed(&input);
  reader.StartChunk(6, /*last=*/true, /*discard=*/true);
  input = "NOOP\r\nRSET\r\n";
  EXPECT_EQ(reader.Feed(&input), 0u);
  EXPECT_EQ(input, "RSET\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.end(), End::kDiscarded);
  EXPECT_EQ(reader.wire_bytes(), 2u);
  // The message so far is untouched.
  reader.StartChunk(1, /*last=*/true, /*discard=*/false);
  input = "c";
  EXPECT_EQ(reader.Feed(&input), 1u);
  EXPECT_EQ(reader.end(), End::kMessage);
  EXPECT_EQ(reader.TakeContent(), "abc");
}

TEST(ContentReader, ChunkFitsCountsWhatIsHeld) {
  ContentReader reader(10);
  reader.StartMessage(0);
  EXPECT_TRUE(reader.ChunkFits(10));
  EXPECT_FALSE(reader.ChunkFits(11));
  reader.StartChunk(6, /*last=*/false, /*discard=*/false);
  absl::string_view input = "123456";
  reader.Feed(&input);
  EXPECT_TRUE(reader.ChunkFits(4));
  EXPECT_FALSE(reader.ChunkFits(5));
  // A size so large that adding it would wrap around does not fit either.
  EXPECT_FALSE(reader.ChunkFits(18446744073709551615u));
  EXPECT_FALSE(reader.ChunkFits(18446744073709551615u - 5));
  reader.Clear();
  EXPECT_TRUE(reader.ChunkFits(10));
}

TEST(ContentReader, ALargeChunkInPieces) {
  ContentReader reader(1u << 20);
  reader.StartMessage(1u << 20);
  reader.StartChunk(100000, /*last=*/true, /*discard=*/false);
  const std::string piece(30000, 'x');
  size_t counted = 0;
  for (int i = 0; i < 3; ++i) {
    absl::string_view input = piece;
    counted += reader.Feed(&input);
    EXPECT_TRUE(input.empty());
    EXPECT_FALSE(reader.finished());
  }
  absl::string_view input = piece;
  counted += reader.Feed(&input);
  EXPECT_EQ(input.size(), 20000u);
  EXPECT_EQ(counted, 100000u);
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.TakeContent().size(), 100000u);
}

}  // namespace
}  // namespace volley::smtp
