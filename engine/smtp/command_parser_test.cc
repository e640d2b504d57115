#include "engine/smtp/command_parser.h"

#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using Params = std::vector<std::pair<std::string, std::string>>;

// Parses `line`, failing the test unless it is a command.
Command Parse(absl::string_view line) {
  ParsedCommand parsed = ParseCommand(line);
  if (const Reply* reply = std::get_if<Reply>(&parsed)) {
    ADD_FAILURE() << "\"" << line << "\" rejected: " << reply->ToWire();
    return Command{Verb::kNoop, "", "", {}};
  }
  return std::get<Command>(std::move(parsed));
}

// The "code x.y.z" of the rejection of `line`, or "accepted".
std::string Rejection(absl::string_view line) {
  ParsedCommand parsed = ParseCommand(line);
  const Reply* reply = std::get_if<Reply>(&parsed);
  if (reply == nullptr) return "accepted";
  EXPECT_TRUE(reply->enhanced.has_value());
  return std::to_string(reply->code) + " " + (reply->enhanced ? reply->enhanced->ToString() : "");
}

struct VerbCase {
  const char* line;
  Verb verb;
  const char* argument;
};

TEST(ParseCommandTest, Verbs) {
  const VerbCase cases[] = {
      {"EHLO client.example.com", Verb::kEhlo, "client.example.com"},
      {"ehlo client.example.com", Verb::kEhlo, "client.example.com"},
      {"EhLo [127.0.0.1]", Verb::kEhlo, "[127.0.0.1]"},
      {"HELO x", Verb::kHelo, "x"},
      {"HELO  two words ", Verb::kHelo, "two words"},
      {"DATA", Verb::kData, ""},
      {"data", Verb::kData, ""},
      {"RSET", Verb::kRset, ""},
      {"QUIT", Verb::kQuit, ""},
      {"QUIT ", Verb::kQuit, ""},  // trailing blanks are ignored
      {"  QUIT", Verb::kQuit, ""},
      {"STARTTLS", Verb::kStartTls, ""},
      {"starttls", Verb::kStartTls, ""},
      {"NOOP", Verb::kNoop, ""},
      {"NOOP anything at all", Verb::kNoop, "anything at all"},
      {"HELP", Verb::kHelp, ""},
      {"HELP MAIL", Verb::kHelp, "MAIL"},
      {"VRFY user", Verb::kVrfy, "user"},
      {"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", Verb::kAuth, "PLAIN dGVzdAB0ZXN0AHRlc3Q="},
      {"auth login", Verb::kAuth, "login"},
      {"BDAT 1000 LAST", Verb::kBdat, "1000 LAST"},
      {"BDAT\t0", Verb::kBdat, "0"},
  };
  for (const VerbCase& c : cases) {
    SCOPED_TRACE(c.line);
    const Command command = Parse(c.line);
    EXPECT_EQ(command.verb, c.verb);
    EXPECT_EQ(command.argument, c.argument);
    EXPECT_EQ(command.address, "");
    EXPECT_THAT(command.params, IsEmpty());
  }
}

struct RejectCase {
  const char* line;
  const char* want;
};

TEST(ParseCommandTest, Rejections) {
  const RejectCase cases[] = {
      // Unknown verbs.
      {"", "500 5.5.2"},
      {"   ", "500 5.5.2"},
      {"FOO", "500 5.5.2"},
      {"EHL0 x", "500 5.5.2"},
      {"MAILFROM:<a@b.c>", "500 5.5.2"},
      {"GET / HTTP/1.1", "500 5.5.2"},
      {"QUIT\r", "500 5.5.2"},  // a CR inside the line is not a blank
      // Missing or extra arguments.
      {"EHLO", "501 5.5.4"},
      {"EHLO   ", "501 5.5.4"},
      {"HELO", "501 5.5.4"},
      {"DATA x", "501 5.5.4"},
      {"RSET now", "501 5.5.4"},
      {"QUIT please", "501 5.5.4"},
      {"STARTTLS x", "501 5.5.4"},
      {"VRFY", "501 5.5.4"},
      {"AUTH", "501 5.5.4"},
      {"BDAT", "501 5.5.4"},
      // MAIL syntax.
      {"MAIL", "501 5.5.4"},
      {"MAIL FROM", "501 5.5.4"},
      {"MAIL FROM:", "501 5.5.4"},
      {"MAIL FROM:  ", "501 5.5.4"},
      {"MAIL TO:<a@b.c>", "501 5.5.4"},
      {"MAIL FROM :<a@b.c>", "501 5.5.4"},
      {"MAIL FROM:<a@b.c>SIZE=1", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> SIZE=abc", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> SIZE=", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> SIZE", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> SIZE=-1", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> SIZE=1.5", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> size=99999999999999999999", "501 5.5.4"},  // past 2^64
      {"MAIL FROM:<a@b.c> SIZE=123456789012345678901", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> =x", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> -X=1", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> X_Y=1", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> X=a=b", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> BODY=8BIT\x01MIME", "501 5.5.4"},
      {"MAIL FROM:<a@b.c> X=\xff", "501 5.5.4"},
      // MAIL addresses.
      {"MAIL FROM:a@b.c", "501 5.1.7"},
      {"MAIL FROM:<a@b.c", "501 5.1.7"},
      {"MAIL FROM:<a@>", "501 5.1.7"},
      {"MAIL FROM:<@b.c>", "501 5.1.7"},
      {"MAIL FROM:<a>", "501 5.1.7"},
      {"MAIL FROM:<postmaster>", "501 5.1.7"},
      {"MAIL FROM:<a b@c.d>", "501 5.1.7"},
      {"MAIL FROM:<a..b@c.d>", "501 5.1.7"},
      {"MAIL FROM:<.a@c.d>", "501 5.1.7"},
      {"MAIL FROM:<a.@c.d>", "501 5.1.7"},
      {"MAIL FROM:<a@b..c>", "501 5.1.7"},
      {"MAIL FROM:<a@b.c.>", "501 5.1.7"},
      {"MAIL FROM:<a@-b.c>", "501 5.1.7"},
      {"MAIL FROM:<a@b-.c>", "501 5.1.7"},
      {"MAIL FROM:<a@b_c.d>", "501 5.1.7"},
      {"MAIL FROM:<a@[300.0.0.1]>", "501 5.1.7"},
      {"MAIL FROM:<a@[1.2.3]>", "501 5.1.7"},
      {"MAIL FROM:<a@[IPv6:zz::1]>", "501 5.1.7"},
      {"MAIL FROM:<a@[IPv6:1.2.3.4]>", "501 5.1.7"},
      {"MAIL FROM:<a@[tag:value]>", "501 5.1.7"},
      {"MAIL FROM:<a@b@c.d>", "501 5.1.7"},
      {"MAIL FROM:<\"unterminated@b.c>", "501 5.1.7"},
      {"MAIL FROM:<\xff@b.c>", "501 5.1.7"},          // not UTF-8
      {"MAIL FROM:<\xc0\xaf@b.c>", "501 5.1.7"},      // overlong
      {"MAIL FROM:<a@\xed\xa0\x80.c>", "501 5.1.7"},  // surrogate
      {"MAIL FROM:<@r1>", "501 5.1.7"},
      {"MAIL FROM:<@r1:>", "501 5.1.7"},
      {"MAIL FROM:<@r1,r2:a@b.c>", "501 5.1.7"},
      {"MAIL FROM:<@-r1:a@b.c>", "501 5.1.7"},
      // RCPT.
      {"RCPT", "501 5.5.4"},
      {"RCPT FROM:<a@b.c>", "501 5.5.4"},
      {"RCPT TO:", "501 5.5.4"},
      {"RCPT TO:<a@b.c>NOTIFY=NEVER", "501 5.5.4"},
      {"RCPT TO:<>", "501 5.1.3"},
      {"RCPT TO:<a@b.c", "501 5.1.3"},
      {"RCPT TO:a@b.c", "501 5.1.3"},
      {"RCPT TO:<a b@c.d>", "501 5.1.3"},
      {"RCPT TO:<postmaster@>", "501 5.1.3"},
      {"RCPT TO:<@r1:postmaster>", "501 5.1.3"},
      {"RCPT TO:<postmistress>", "501 5.1.3"},
  };
  for (const RejectCase& c : cases) {
    EXPECT_EQ(Rejection(c.line), c.want) << "\"" << c.line << "\"";
  }
}

TEST(ParseCommandTest, RejectionTextsAreHelpful) {
  EXPECT_EQ(std::get<Reply>(ParseCommand("BOGUS")).ToWire(),
            "500 5.5.2 Command not recognized\r\n");
  EXPECT_EQ(std::get<Reply>(ParseCommand("EHLO")).ToWire(), "501 5.5.4 Syntax: EHLO hostname\r\n");
  EXPECT_EQ(std::get<Reply>(ParseCommand("MAIL TO:<a@b.c>")).ToWire(),
            "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
  EXPECT_EQ(std::get<Reply>(ParseCommand("MAIL FROM:<a@>")).ToWire(),
            "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(std::get<Reply>(ParseCommand("RCPT TO:<a@>")).ToWire(),
            "501 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(std::get<Reply>(ParseCommand("MAIL FROM:<a@b.c> SIZE=x")).ToWire(),
            "501 5.5.4 Bad SIZE parameter value\r\n");
}

struct PathCase {
  const char* line;
  Verb verb;
  const char* address;
  Params params;
};

TEST(ParseCommandTest, MailAndRcpt) {
  const PathCase cases[] = {
      {"MAIL FROM:<a@b.c>", Verb::kMail, "a@b.c", {}},
      {"mail from:<a@b.c>", Verb::kMail, "a@b.c", {}},
      {"Mail From:<A.B@Example.COM>", Verb::kMail, "A.B@Example.COM", {}},
      {"MAIL FROM: <a@b.c>", Verb::kMail, "a@b.c", {}},  // as Postfix tolerates
      {"MAIL  FROM:<a@b.c>  ", Verb::kMail, "a@b.c", {}},
      {"MAIL FROM:<>", Verb::kMail, "", {}},
      {"MAIL FROM:<> SIZE=0", Verb::kMail, "", {{"SIZE", "0"}}},
      {"MAIL FROM:<a@b.c> SIZE=123 BODY=8BITMIME",
       Verb::kMail,
       "a@b.c",
       {{"SIZE", "123"}, {"BODY", "8BITMIME"}}},
      {"MAIL FROM:<a@b.c>   size=18446744073709551615\tsmtputf8  ret=HDRS",
       Verb::kMail,
       "a@b.c",
       {{"SIZE", "18446744073709551615"}, {"SMTPUTF8", ""}, {"RET", "HDRS"}}},
      {"MAIL FROM:<a@b.c> ENVID=QQ314159 X-CUSTOM=x+2Bb",
       Verb::kMail,
       "a@b.c",
       {{"ENVID", "QQ314159"}, {"X-CUSTOM", "x+2Bb"}}},
      {"MAIL FROM:<@r1.example,@r2.example:a@b.c>", Verb::kMail, "a@b.c", {}},
      {"MAIL FROM:<\"john doe\"@b.c>", Verb::kMail, "\"john doe\"@b.c", {}},
      {"MAIL FROM:<\"a>b\"@b.c> SIZE=1", Verb::kMail, "\"a>b\"@b.c", {{"SIZE", "1"}}},
      {"MAIL FROM:<\"a\\\"b@x\"@b.c>", Verb::kMail, "\"a\\\"b@x\"@b.c", {}},
      {"MAIL FROM:<a@[127.0.0.1]>", Verb::kMail, "a@[127.0.0.1]", {}},
      {"MAIL FROM:<a@[IPv6:::1]>", Verb::kMail, "a@[IPv6:::1]", {}},
      {"MAIL FROM:<a@[ipv6:2001:db8::1]>", Verb::kMail, "a@[ipv6:2001:db8::1]", {}},
      {"MAIL FROM:<a@[IPv6:::ffff:192.0.2.1]>", Verb::kMail, "a@[IPv6:::ffff:192.0.2.1]", {}},
      {"MAIL FROM:<j\xc3\xbcrgen@b\xc3\xbc"
       "cher.de> SMTPUTF8",
       Verb::kMail,
       "j\xc3\xbcrgen@b\xc3\xbc"
       "cher.de",
       {{"SMTPUTF8", ""}}},
      {"MAIL FROM:<!#$%&'*+-/=?^_`{|}~@b.c>", Verb::kMail, "!#$%&'*+-/=?^_`{|}~@b.c", {}},
      {"RCPT TO:<x@y.z>", Verb::kRcpt, "x@y.z", {}},
      {"rcpt to: <x@y.z>", Verb::kRcpt, "x@y.z", {}},
      {"RCPT TO:<postmaster>", Verb::kRcpt, "postmaster", {}},
      {"RCPT TO:<PostMaster>", Verb::kRcpt, "PostMaster", {}},
      {"RCPT TO:<postmaster@y.z>", Verb::kRcpt, "postmaster@y.z", {}},
      {"RCPT TO:<@a,@b:c@d>", Verb::kRcpt, "c@d", {}},
      {"RCPT TO:<x@localhost>", Verb::kRcpt, "x@localhost", {}},
      {"RCPT TO:<x@y.z> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y.z",
       Verb::kRcpt,
       "x@y.z",
       {{"NOTIFY", "SUCCESS,FAILURE"}, {"ORCPT", "rfc822;x@y.z"}}},
  };
  for (const PathCase& c : cases) {
    SCOPED_TRACE(c.line);
    const Command command = Parse(c.line);
    EXPECT_EQ(command.verb, c.verb);
    EXPECT_EQ(command.address, c.address);
    EXPECT_EQ(command.params, c.params);
    EXPECT_EQ(command.argument, "");
  }
}

TEST(ParseCommandTest, SizeLimitsOfParts) {
  const std::string local64(64, 'l');
  const std::string label63(63, 'd');
  // 63 + 1 + 63 + 1 + 63 + 1 + 63 = 255 octets.
  const std::string domain255 = label63 + "." + label63 + "." + label63 + "." + label63;
  EXPECT_EQ(Rejection("MAIL FROM:<" + local64 + "@b.c>"), "accepted");
  EXPECT_EQ(Rejection("MAIL FROM:<" + local64 + "l@b.c>"), "501 5.1.7");
  EXPECT_EQ(Rejection("RCPT TO:<a@" + label63 + ".c>"), "accepted");
  EXPECT_EQ(Rejection("RCPT TO:<a@" + label63 + "d.c>"), "501 5.1.3");
  EXPECT_EQ(Rejection("RCPT TO:<a@" + domain255 + ">"), "accepted");
  // 63 + 1 + 63 + 1 + 63 + 1 + 62 + 1 + 1 = 256 octets, every label short enough.
  const std::string domain256 =
      label63 + "." + label63 + "." + label63 + "." + std::string(62, 'd') + ".d";
  EXPECT_EQ(Rejection("RCPT TO:<a@" + domain256 + ">"), "501 5.1.3");
}

struct MailboxCase {
  const char* mailbox;
  bool valid;
};

TEST(IsValidMailboxTest, Table) {
  const MailboxCase cases[] = {
      {"a@b", true},
      {"user.name+tag@example.co.uk", true},
      {"1@2.3", true},
      {"a@xn--bcher-kva.example", true},
      {"\"quoted local\"@example.com", true},
      {"\"\"@example.com", true},
      {"\"a@b\"@example.com", true},
      {"\"esc\\\\aped\"@example.com", true},
      {"a@[192.0.2.1]", true},
      {"a@[001.002.003.004]", true},
      {"a@[IPv6:2001:db8::1]", true},
      {"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0"
       "\xb5\xd1\x80.\xd1\x80\xd1\x84",
       true},
      {"", false},
      {"a", false},
      {"@b", false},
      {"a@", false},
      {"a@b@c", false},
      {"a@@b", false},
      {"a b@c", false},
      {"a(b)@c", false},
      {"a,b@c", false},
      {"a@b c", false},
      {"a@.b", false},
      {"a@b.", false},
      {"\"a\"b@c", false},
      {"\"a\"\"@c", false},
      {"\"a\\\"@c", false},
      {"\"tab\there\"@c", false},
      {"a@[]", false},
      {"a@[256.1.1.1]", false},
      {"a@[1.1.1.1.1]", false},
      {"a@[1.1.1]", false},
      {"a@[1..1.1]", false},
      {"a@[0001.1.1.1]", false},
      {"a@[IPv6:]", false},
      {"a@[IPv6:1:2:3:4:5:6:7:8:9]", false},
      {"a@[192.0.2.1", false},
      {"a@192.0.2.1]", false},
      {"\xe2\x82@b.c", false},          // truncated UTF-8
      {"a@b.\xf5\x80\x80\x80", false},  // past U+10FFFF
  };
  for (const MailboxCase& c : cases) {
    EXPECT_EQ(IsValidMailbox(c.mailbox), c.valid) << "\"" << c.mailbox << "\"";
  }
}

TEST(DomainOfTest, Table) {
  EXPECT_EQ(DomainOf("User@Example.COM"), "example.com");
  EXPECT_EQ(DomainOf("a@b"), "b");
  EXPECT_EQ(DomainOf("\"x@y\"@Z.org"), "z.org");
  EXPECT_EQ(DomainOf("a@[IPv6:2001:DB8::1]"), "[ipv6:2001:db8::1]");
  EXPECT_EQ(DomainOf("postmaster"), "");
  EXPECT_EQ(DomainOf(""), "");
  EXPECT_EQ(DomainOf("\"x@y\""), "");
  EXPECT_EQ(DomainOf("a@B\xc3\x9c"
                     "cher.DE"),
            "b\xc3\x9c"
            "cher.de");  // ASCII lower-cased only
}

TEST(ParseCommandTest, RandomLinesNeverBreakTheContract) {
  // A poor man's fuzzer (run it under --config=asan): every line gives a command whose address
  // is valid, or a 500/501 reply.
  std::mt19937 rng(5321);
  const absl::string_view prefixes[] = {"MAIL FROM:", "RCPT TO:", "EHLO ", "DATA", ""};
  const char alphabet[] = "<>@\"\\.:,[] =\t-aZ09\x80\xc3\xa9\xff";
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string line(prefixes[rng() % 5]);
    const size_t length = rng() % 30;
    for (size_t i = 0; i < length; ++i) line.push_back(alphabet[rng() % (sizeof(alphabet) - 1)]);
    const ParsedCommand parsed = ParseCommand(line);
    if (const Command* command = std::get_if<Command>(&parsed)) {
      if (command->verb == Verb::kMail && !command->address.empty()) {
        EXPECT_TRUE(IsValidMailbox(command->address)) << line;
      }
      if (command->verb == Verb::kRcpt && !absl::EqualsIgnoreCase(command->address, "postmaster")) {
        EXPECT_TRUE(IsValidMailbox(command->address)) << line;
      }
    } else {
      const Reply& reply = std::get<Reply>(parsed);
      EXPECT_TRUE(reply.code == 500 || reply.code == 501) << line;
    }
  }
}

}  // namespace
}  // namespace volley::smtp
