#include "engine/config/config_parser.h"

#include <toml++/toml.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/config/config_types.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

// Parses a document for the readers to read; the keys' lines are what the tests expect in
// messages.
class ConfigParserTest : public ::testing::Test {
 protected:
  void Load(std::string_view text) {
    toml::parse_result result = toml::parse(text);
    ASSERT_TRUE(result) << result.error().description();
    table_ = std::move(result).table();
  }

  // The value of a top-level key of the loaded document.
  const toml::node& At(std::string_view key) {
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      ADD_FAILURE() << "no key " << key;
      return missing_;
    }
    return *node;
  }

  // Finish()'s message: every problem, one per line.
  std::string Problems() { return std::string(parser_.Finish().message()); }

  ConfigParser parser_{"o.toml"};
  toml::table table_;
  toml::value<int64_t> missing_{0};
};

TEST_F(ConfigParserTest, FinishIsOkWithoutProblems) { EXPECT_TRUE(parser_.Finish().ok()); }

TEST_F(ConfigParserTest, FinishListsProblemsInLineOrderKeepingOrderWithinALine) {
  parser_.AddError(3, "third, first reported");
  parser_.AddError(1, "first");
  parser_.AddError(3, "third, second reported");
  parser_.AddError(0, "the whole file");
  const absl::Status status = parser_.Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "o.toml: the whole file\n"
            "o.toml:1: first\n"
            "o.toml:3: third, first reported\n"
            "o.toml:3: third, second reported");
}

TEST_F(ConfigParserTest, AddErrorAtANodeOrKeyNamesItsLine) {
  Load("a = 1\n\nb = 2\n");
  parser_.AddError(At("b"), "at b's value");
  for (auto&& [key, value] : table_) {
    if (key.str() == "a") parser_.AddError(key, "at key a");
  }
  EXPECT_EQ(Problems(), "o.toml:1: at key a\no.toml:3: at b's value");
}

TEST_F(ConfigParserTest, WalkDispatchesKnownKeysAndReportsTheRest) {
  Load("[t]\nknown = 7\nlater = 2\nodd = 3\n");
  std::optional<int64_t> known;
  parser_.Walk(*At("t").as_table(), "t",
               {{"known", [&](const toml::node& v) { known = v.value<int64_t>(); }}}, {"later"});
  EXPECT_EQ(known, 7);
  EXPECT_EQ(Problems(),
            "o.toml:3: [t] later: not supported yet by this version\n"
            "o.toml:4: unknown key 'odd' in [t]");
}

TEST_F(ConfigParserTest, ExpectTable) {
  Load("t = {}\nn = 1\n");
  EXPECT_NE(parser_.ExpectTable(At("t"), "[t]"), nullptr);
  EXPECT_EQ(parser_.ExpectTable(At("n"), "[n]"), nullptr);
  EXPECT_EQ(Problems(), "o.toml:2: [n]: expected a table, got an integer");
}

TEST_F(ConfigParserTest, ReadString) {
  Load("s = \"text\"\nn = 1.5\n");
  EXPECT_EQ(parser_.ReadString(At("s"), "s"), "text");
  EXPECT_EQ(parser_.ReadString(At("n"), "n"), std::nullopt);
  EXPECT_EQ(Problems(), "o.toml:2: n: expected a string, got a floating-point number");
}

TEST_F(ConfigParserTest, ReadIntegerNamesTheRange) {
  Load("a = 5\nb = 0\nc = 11\nd = \"5\"\n");
  EXPECT_EQ(parser_.ReadInteger(At("a"), "a", 1, 10), 5);
  // With no upper limit to speak of, the message names only the lower one.
  EXPECT_EQ(parser_.ReadInteger(At("b"), "b", 1, std::numeric_limits<int>::max()), std::nullopt);
  EXPECT_EQ(parser_.ReadInteger(At("c"), "c", 1, 10), std::nullopt);
  EXPECT_EQ(parser_.ReadInteger(At("d"), "d", 1, 10), std::nullopt);
  EXPECT_EQ(Problems(),
            "o.toml:2: b: 0 is out of range (must be at least 1)\n"
            "o.toml:3: c: 11 is out of range (must be from 1 to 10)\n"
            "o.toml:4: d: expected an integer, got a string");
}

TEST_F(ConfigParserTest, ReadSizeTakesBytesOrAString) {
  Load("a = 1024\nb = \"2KiB\"\nc = 0\nd = -1\ne = \"2 KiB\"\nf = true\n");
  EXPECT_EQ(parser_.ReadSize(At("a"), "a", /*allow_zero=*/false), 1024u);
  EXPECT_EQ(parser_.ReadSize(At("b"), "b", /*allow_zero=*/false), 2048u);
  EXPECT_EQ(parser_.ReadSize(At("c"), "c", /*allow_zero=*/true), 0u);
  EXPECT_EQ(parser_.ReadSize(At("c"), "c", /*allow_zero=*/false), std::nullopt);
  EXPECT_EQ(parser_.ReadSize(At("d"), "d", /*allow_zero=*/true), std::nullopt);
  EXPECT_EQ(parser_.ReadSize(At("e"), "e", /*allow_zero=*/true), std::nullopt);
  EXPECT_EQ(parser_.ReadSize(At("f"), "f", /*allow_zero=*/true), std::nullopt);
  EXPECT_EQ(Problems(),
            "o.toml:3: c: must be larger than zero\n"
            "o.toml:4: d: must not be negative\n"
            "o.toml:5: e: bad size \"2 KiB\": unknown unit \" KiB\" (write a number with an "
            "optional unit B, KB, MB, GB, KiB, MiB or GiB, such as \"25MiB\")\n"
            "o.toml:6: f: expected a size (an integer number of bytes or a string like "
            "\"25MiB\"), got a boolean");
}

TEST_F(ConfigParserTest, ReadDurationMustBeAPositiveString) {
  Load("a = \"1h30m\"\nb = \"0s\"\nc = 30\nd = \"1x\"\n");
  EXPECT_EQ(parser_.ReadDuration(At("a"), "a"), absl::Minutes(90));
  EXPECT_EQ(parser_.ReadDuration(At("b"), "b"), std::nullopt);
  EXPECT_EQ(parser_.ReadDuration(At("c"), "c"), std::nullopt);
  EXPECT_EQ(parser_.ReadDuration(At("d"), "d"), std::nullopt);
  EXPECT_EQ(Problems(),
            "o.toml:2: b: must be longer than zero\n"
            "o.toml:3: c: expected a duration string like \"30s\", got an integer\n"
            "o.toml:4: d: bad duration \"1x\": unknown unit \"x\" (write a number and a unit "
            "ms, s, m, h or d, such as \"30s\", \"5m\" or \"1h30m\")");
}

TEST_F(ConfigParserTest, ReadIpAddressWantsANumericHost) {
  Load("a = \"10.0.0.1\"\nb = \"[::1]:0\"\nc = \"dns.example:53\"\nd = \"10.0.0.1:0\"\n");
  EXPECT_EQ(parser_.ReadIpAddress(At("a"), "a", 53), (HostPort{"10.0.0.1", 53}));
  EXPECT_EQ(parser_.ReadIpAddress(At("b"), "b", std::nullopt, /*allow_port_zero=*/true),
            (HostPort{"::1", 0}));
  EXPECT_EQ(parser_.ReadIpAddress(At("c"), "c", 53), std::nullopt);
  EXPECT_EQ(parser_.ReadIpAddress(At("d"), "d", 53), std::nullopt);
  EXPECT_EQ(Problems(),
            "o.toml:3: c: \"dns.example:53\": the host must be a numeric IP address\n"
            "o.toml:4: d: bad address \"10.0.0.1:0\": port \"0\" is not a number from 1 to "
            "65535");
}

TEST_F(ConfigParserTest, ReadTlsPolicyTakesImplicitOnlyWhereAllowed) {
  Load("a = \"required_verify\"\nb = \"implicit\"\nc = \"maybe\"\n");
  EXPECT_EQ(parser_.ReadTlsPolicy(At("a"), "a", /*allow_implicit=*/false),
            TlsPolicy::kRequiredVerify);
  EXPECT_EQ(parser_.ReadTlsPolicy(At("b"), "b", /*allow_implicit=*/true), TlsPolicy::kImplicit);
  EXPECT_EQ(parser_.ReadTlsPolicy(At("b"), "b", /*allow_implicit=*/false), std::nullopt);
  EXPECT_EQ(parser_.ReadTlsPolicy(At("c"), "c", /*allow_implicit=*/true), std::nullopt);
  EXPECT_EQ(Problems(),
            "o.toml:2: b: \"implicit\" is not one of disabled, opportunistic, required, "
            "required_verify\n"
            "o.toml:3: c: \"maybe\" is not one of disabled, opportunistic, required, "
            "required_verify, implicit");
}

TEST(QuoteKey, QuotesOnlyWhatABareKeyCannotSay) {
  EXPECT_EQ(QuoteKey("default"), "default");
  EXPECT_EQ(QuoteKey("a_b-1"), "a_b-1");
  EXPECT_EQ(QuoteKey("gmail.com"), "\"gmail.com\"");
  EXPECT_EQ(QuoteKey(""), "\"\"");
  EXPECT_EQ(QuoteKey("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
}

TEST_F(ConfigParserTest, TypeNameSaysWhatAValueWas) {
  Load(
      "s = \"\"\ni = 1\nf = 1.5\nb = true\nd = 1979-05-27\nt = 07:32:00\n"
      "dt = 1979-05-27T07:32:00Z\na = []\ntb = {}\n");
  EXPECT_EQ(TypeName(At("s")), "a string");
  EXPECT_EQ(TypeName(At("i")), "an integer");
  EXPECT_EQ(TypeName(At("f")), "a floating-point number");
  EXPECT_EQ(TypeName(At("b")), "a boolean");
  EXPECT_EQ(TypeName(At("d")), "a date");
  EXPECT_EQ(TypeName(At("t")), "a time");
  EXPECT_EQ(TypeName(At("dt")), "a date-time");
  EXPECT_EQ(TypeName(At("a")), "an array");
  EXPECT_EQ(TypeName(At("tb")), "a table");
}

}  // namespace
}  // namespace volley::config
