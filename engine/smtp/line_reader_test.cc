#include "engine/smtp/line_reader.h"

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using Status = LineReader::Status;

// A line, or "<too long>" for a discarded one.
constexpr absl::string_view kTooLong = "<too long>";

// Feeds `pieces` in turn and collects every result except kNeedMore.
std::vector<std::string> ReadAll(LineReader& reader, const std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  for (const std::string& piece : pieces) {
    absl::string_view input = piece;
    absl::string_view line;
    while (true) {
      const Status status = reader.Next(&input, &line);
      if (status == Status::kNeedMore) {
        EXPECT_TRUE(input.empty());
        break;
      }
      out.push_back(status == Status::kLine ? std::string(line) : std::string(kTooLong));
    }
  }
  return out;
}

TEST(LineReaderTest, WholeLinePointsIntoTheInput) {
  LineReader reader(1000);
  const std::string data = "EHLO client.example\r\nMAIL FROM:<a@b>\r\nRCPT";
  absl::string_view input = data;
  absl::string_view line;
  ASSERT_EQ(reader.Next(&input, &line), Status::kLine);
  EXPECT_EQ(line, "EHLO client.example");
  EXPECT_EQ(line.data(), data.data());  // no copy
  EXPECT_EQ(input, "MAIL FROM:<a@b>\r\nRCPT");
  ASSERT_EQ(reader.Next(&input, &line), Status::kLine);
  EXPECT_EQ(line, "MAIL FROM:<a@b>");
  EXPECT_EQ(line.data(), data.data() + 21);
  EXPECT_EQ(input, "RCPT");
  EXPECT_EQ(reader.Next(&input, &line), Status::kNeedMore);
  EXPECT_TRUE(input.empty());
  EXPECT_EQ(reader.buffered(), 4u);
}

TEST(LineReaderTest, EmptyInput) {
  LineReader reader(1000);
  absl::string_view input;
  absl::string_view line;
  EXPECT_EQ(reader.Next(&input, &line), Status::kNeedMore);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(LineReaderTest, LineEndings) {
  LineReader reader(1000);
  EXPECT_THAT(ReadAll(reader, {"a\r\nb\nc\r\r\nd\re\n\r\n\n"}),
              ElementsAre("a", "b", "c\r", "d\re", "", ""));
}

TEST(LineReaderTest, CrLfSplitAcrossInputs) {
  LineReader reader(1000);
  const std::string first = "QUIT\r";
  absl::string_view input = first;
  absl::string_view line;
  ASSERT_EQ(reader.Next(&input, &line), Status::kNeedMore);
  EXPECT_EQ(reader.buffered(), 5u);
  const std::string second = "\nNOOP\r\n";
  input = second;
  ASSERT_EQ(reader.Next(&input, &line), Status::kLine);
  EXPECT_EQ(line, "QUIT");
  EXPECT_EQ(reader.buffered(), 0u);
  ASSERT_EQ(reader.Next(&input, &line), Status::kLine);
  EXPECT_EQ(line, "NOOP");
  EXPECT_EQ(line.data(), second.data() + 1);  // the second line is wholly in the input
}

TEST(LineReaderTest, LineSpanningInputsStaysValidUntilNextCall) {
  LineReader reader(1000);
  std::string first = "MAIL FROM:";
  std::string second = "<a@b>\r\nX";
  absl::string_view input = first;
  absl::string_view line;
  ASSERT_EQ(reader.Next(&input, &line), Status::kNeedMore);
  input = second;
  ASSERT_EQ(reader.Next(&input, &line), Status::kLine);
  // Overwrite the inputs: the line must not point into them.
  first.assign(first.size(), '#');
  second.assign(second.size(), '#');
  EXPECT_EQ(line, "MAIL FROM:<a@b>");
}

TEST(LineReaderTest, EveryChunkingGivesTheSameLines) {
  const std::string data = "EHLO x\r\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\r\n\r\nDATA\r\n";
  for (size_t chunk = 1; chunk <= data.size(); ++chunk) {
    std::vector<std::string> pieces;
    for (size_t pos = 0; pos < data.size(); pos += chunk) pieces.push_back(data.substr(pos, chunk));
    LineReader reader(1000);
    EXPECT_THAT(ReadAll(reader, pieces),
                ElementsAre("EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "", "DATA"))
        << "chunk " << chunk;
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

struct LimitCase {
  std::string input;
  std::vector<std::string> want;
};

TEST(LineReaderTest, LengthCapCountsTheLineEnding) {
  // A cap of 10 octets, CRLF included.
  const LimitCase cases[] = {
      {"12345678\r\n", {"12345678"}},
      {"123456789\r\n", {std::string(kTooLong)}},
      {"123456789\n", {"123456789"}},  // a bare LF is one octet
      {"1234567890\n", {std::string(kTooLong)}},
      {"123456789\r\nok\r\n", {std::string(kTooLong), "ok"}},
      {std::string(5000, 'x') + "\r\nok\r\n" + std::string(11, 'y') + "\nz\n",
       {std::string(kTooLong), "ok", std::string(kTooLong), "z"}},
  };
  for (const LimitCase& c : cases) {
    for (size_t chunk = 1; chunk <= c.input.size(); ++chunk) {
      std::vector<std::string> pieces;
      for (size_t pos = 0; pos < c.input.size(); pos += chunk) {
        pieces.push_back(c.input.substr(pos, chunk));
      }
      LineReader reader(10);
      EXPECT_EQ(ReadAll(reader, pieces), c.want) << c.input << " chunk " << chunk;
    }
  }
}

TEST(LineReaderTest, OverLongLineIsNotBufferedThenRecovers) {
  LineReader reader(512);
  absl::string_view line;
  const std::string junk(300, 'j');
  for (int i = 0; i < 100; ++i) {
    absl::string_view input = junk;
    ASSERT_EQ(reader.Next(&input, &line), Status::kNeedMore);
    EXPECT_TRUE(input.empty());
    EXPECT_LT(reader.buffered(), 512u);  // memory stays bounded while discarding
  }
  const std::string tail = "jjj\r\nQUIT\r\n";
  absl::string_view input = tail;
  EXPECT_EQ(reader.Next(&input, &line), Status::kTooLong);
  EXPECT_EQ(input, "QUIT\r\n");
  ASSERT_EQ(reader.Next(&input, &line), Status::kLine);
  EXPECT_EQ(line, "QUIT");
}

TEST(LineReaderTest, ClearDropsAPartialLine) {
  LineReader reader(1000);
  EXPECT_THAT(ReadAll(reader, {"partial"}), ElementsAre());
  EXPECT_EQ(reader.buffered(), 7u);
  reader.Clear();
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_THAT(ReadAll(reader, {"line\r\n"}), ElementsAre("line"));
}

TEST(LineReaderTest, ClearEndsDiscarding) {
  LineReader reader(10);
  EXPECT_THAT(ReadAll(reader, {std::string(50, 'x')}), ElementsAre());
  reader.Clear();
  EXPECT_THAT(ReadAll(reader, {"ok\r\n"}), ElementsAre("ok"));
}

}  // namespace
}  // namespace volley::smtp
