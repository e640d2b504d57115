// The delivery client against the project's scriptable sink: each test asks the sink for one
// behaviour (by option or by recipient local part), injects through volleyd, and checks both
// the SMTP conversation the sink saw and the delivery-log records volleyd wrote
// (tests/delivery_client_test_fixture.h). Here: egress sources, timeouts, refusals, dropped
// connections, 8BITMIME, SIZE, CHUNKING, PIPELINING, DSN and SMTPUTF8.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/smtp/reply.h"
#include "gtest/gtest.h"
#include "tests/delivery_client_test_fixture.h"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/smtp_sink.h"

namespace volley {
namespace {

using test_support::EntriesFor;
using test_support::LogEntry;
using test_support::TypesFor;

TEST_F(ClientTest, EgressSourcesAreUsedInTurnAndLogged) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink,
        "[egress.pool]\nsources = [{ address = \"127.0.0.2\", ehlo = \"a.egress.test\", "
        "name = \"a\" }, { address = \"127.0.0.3\", ehlo = \"b.egress.test\", name = \"b\" }]\n"
        "[shaping.default]\negress_pool = \"pool\"\nmax_deliveries_per_connection = 1\n"
        "connection_limit = 1\n");
  std::vector<std::vector<std::string>> messages;
  std::vector<std::string> recipients;
  for (int i = 0; i < 6; ++i) {
    recipients.push_back(absl::StrCat("e", i, "@client.test"));
    messages.push_back({recipients.back()});
  }
  Inject(messages);
  std::vector<LogEntry> entries = WaitFinal(recipients);
  std::map<std::string, int> by_source;
  for (const LogEntry& e : entries) {
    if (e.type != "Delivery") continue;
    EXPECT_EQ(e.egress_pool, "pool");
    ++by_source[e.egress_source];
  }
  // One message per connection, sources in turn: three each.
  EXPECT_EQ(by_source["a"], 3);
  EXPECT_EQ(by_source["b"], 3);
  std::map<std::string, int> by_peer;
  for (const test_support::ReceivedMessage& m : sink_->TakeMessages()) ++by_peer[m.peer_address];
  EXPECT_EQ(by_peer["127.0.0.2"], 3);
  EXPECT_EQ(by_peer["127.0.0.3"], 3);
}

TEST_F(ClientTest, ASlowServerTimesOutAsATransientFailure) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.reply_delay = absl::Milliseconds(1500);
  Start(sink, "[shaping.default]\nbanner_timeout = \"500ms\"\n");
  Inject({{"slow@client.test"}});
  std::vector<LogEntry> failures = WaitFor("slow@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].code, 451);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "timed out waiting for the greeting"))
      << failures[0].content;
  EXPECT_EQ(sink_->messages(), 0u);
}

TEST_F(ClientTest, TooManyRecipientsGoInTheNextTransaction) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.max_recipients = 2;
  Start(sink);
  std::vector<std::string> rcpts;
  for (int i = 0; i < 5; ++i) rcpts.push_back(absl::StrCat("r", i, "@client.test"));
  Inject({rcpts});
  std::vector<LogEntry> entries = WaitFinal(rcpts);
  for (const std::string& r : rcpts) {
    EXPECT_EQ(TypesFor(entries, r), (std::vector<std::string>{"Reception", "Delivery"})) << r;
  }
  std::vector<std::vector<std::string>> transactions;
  for (const test_support::ReceivedMessage& m : sink_->TakeMessages()) {
    transactions.push_back(m.recipients);
  }
  EXPECT_EQ(transactions,
            (std::vector<std::vector<std::string>>{{"r0@client.test", "r1@client.test"},
                                                   {"r2@client.test", "r3@client.test"},
                                                   {"r4@client.test"}}));
}

TEST_F(ClientTest, GreetingRefusedByEveryHostBounces) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.greeting = smtp::MakeReply(554, "5.7.1", "no service for you");
  Start(sink);
  Inject({{"refused@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"refused@client.test"});
  const std::vector<LogEntry> mine = EntriesFor(entries, "refused@client.test");
  ASSERT_EQ(mine.back().type, "Bounce");
  EXPECT_EQ(mine.back().code, 554);
  EXPECT_EQ(sink_->messages(), 0u);
}

TEST_F(ClientTest, ConnectionDroppedInTheMiddleOfDataIsTransient) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink);
  Inject({{"dropdata-1@client.test"}},
         absl::StrCat("Subject: big\r\n\r\n", std::string(100000, 'x'), "\r\n"));
  std::vector<LogEntry> failures = WaitFor("dropdata-1@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].code, 451);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "connection closed by the server"))
      << failures[0].content;
  EXPECT_EQ(sink_->messages(), 0u);
}

TEST_F(ClientTest, EightBitMessageIsConvertedForAServerWithout8BitMime) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.eightbitmime = false;
  sink.chunking = false;
  Start(sink);
  const std::string content = "Subject: 8bit\r\n\r\ncaf\xc3\xa9 na\xc3\xafve\r\n";
  Inject({{"eight@client.test"}}, content);
  WaitFinal({"eight@client.test"});
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(absl::StrContains(got[0].content, "Content-Transfer-Encoding: quoted-printable"))
      << got[0].content;
  EXPECT_TRUE(absl::StrContains(got[0].content, "caf=C3=A9 na=C3=AFve")) << got[0].content;
  for (char c : got[0].content) ASSERT_LT(static_cast<unsigned char>(c), 0x80);
  for (const auto& [key, value] : got[0].mail_params) EXPECT_NE(key, "BODY");

  // A message that cannot be made 7-bit (8-bit in a header) bounces with 5.6.3 unsent.
  Inject({{"header8@client.test"}}, "Subject: caf\xc3\xa9\r\n\r\nbody\r\n");
  std::vector<LogEntry> entries = WaitFinal({"header8@client.test"});
  const LogEntry bounce = EntriesFor(entries, "header8@client.test").back();
  EXPECT_EQ(bounce.type, "Bounce");
  EXPECT_EQ(bounce.enhanced, "5.6.3");
  EXPECT_TRUE(sink_->TakeMessages().empty());
}

TEST_F(ClientTest, MessageOverTheAdvertisedSizeBouncesUnsent) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.max_message_size = 1000;
  Start(sink);
  Inject({{"big@client.test"}},
         absl::StrCat("Subject: big\r\n\r\n", std::string(5000, 'b'), "\r\n"));
  std::vector<LogEntry> entries = WaitFinal({"big@client.test"});
  const LogEntry bounce = EntriesFor(entries, "big@client.test").back();
  EXPECT_EQ(bounce.type, "Bounce");
  EXPECT_EQ(bounce.code, 552);
  EXPECT_EQ(bounce.enhanced, "5.3.4");
  EXPECT_EQ(bounce.classification, "QuotaIssues");
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "MAIL"));
}

TEST_F(ClientTest, ChunkingCarriesTheMessageByteForByte) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink);
  const std::string content = "Subject: bdat\r\n\r\n.leading dot\r\n..two\r\nlast\r\n";
  Inject({{"bdat@client.test"}}, content);
  WaitFinal({"bdat@client.test"});
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].bdat);
  EXPECT_TRUE(absl::EndsWith(got[0].content, content)) << got[0].content;
  EXPECT_TRUE(HasCommandStarting(sink_->Transcripts(), "BDAT "));
}

TEST_F(ClientTest, LockStepWithoutPipelining) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.pipelining = false;
  sink.chunking = false;
  Start(sink);
  Inject({{"a@client.test", "reject-b@client.test", "c@client.test"}});
  std::vector<LogEntry> entries =
      WaitFinal({"a@client.test", "reject-b@client.test", "c@client.test"});
  EXPECT_EQ(EntriesFor(entries, "a@client.test").back().type, "Delivery");
  EXPECT_EQ(EntriesFor(entries, "reject-b@client.test").back().type, "Bounce");
  EXPECT_EQ(EntriesFor(entries, "c@client.test").back().type, "Delivery");
  std::vector<test_support::SessionTranscript> transcripts = sink_->Transcripts();
  ASSERT_EQ(transcripts.size(), 1u);
  std::vector<std::string> expected = {
      "MAIL FROM:<sender@volley.test> SIZE=", "RCPT TO:<a@client.test>",
      "RCPT TO:<reject-b@client.test>", "RCPT TO:<c@client.test>", "DATA"};
  ASSERT_GE(transcripts[0].commands.size(), 6u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(transcripts[0].commands[i + 1], expected[i]))
        << transcripts[0].commands[i + 1];
  }
}

TEST_F(ClientTest, DsnAndSmtpUtf8ParametersArePassedOn) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink);
  std::unique_ptr<test_support::RawSmtpClient> c =
      test_support::RawSmtpClient::Connect("127.0.0.1", volleyd_->smtp_port());
  ASSERT_NE(c, nullptr);
  c->ReadFinal();
  c->Command("EHLO platform.test");
  ASSERT_TRUE(absl::StartsWith(
      c->Command("MAIL FROM:<s\xc3\xa9nder@volley.test> SMTPUTF8 RET=HDRS ENVID=QQ314159"), "250"));
  ASSERT_TRUE(
      absl::StartsWith(c->Command("RCPT TO:<j\xc3\xb8rn@client.test> NOTIFY=SUCCESS,FAILURE "
                                  "ORCPT=rfc822;j+C3+B8rn@client.test"),
                       "250"));
  ASSERT_TRUE(absl::StartsWith(c->Command("DATA"), "354"));
  ASSERT_TRUE(absl::StartsWith(c->Command("Subject: dsn\r\n\r\nbody\r\n."), "250"));
  WaitFinal({"j\xc3\xb8rn@client.test"});
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].smtputf8_requested);
  std::map<std::string, std::string> mail(got[0].mail_params.begin(), got[0].mail_params.end());
  EXPECT_EQ(mail["RET"], "HDRS");
  EXPECT_EQ(mail["ENVID"], "QQ314159");
  ASSERT_EQ(got[0].recipient_params.size(), 1u);
  std::map<std::string, std::string> rcpt(got[0].recipient_params[0].begin(),
                                          got[0].recipient_params[0].end());
  EXPECT_EQ(rcpt["NOTIFY"], "SUCCESS,FAILURE");
  EXPECT_EQ(rcpt["ORCPT"], "rfc822;j+C3+B8rn@client.test");
}

TEST_F(ClientTest, SmtpUtf8MessageToAServerWithoutItBounces) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.smtputf8 = false;
  Start(sink);
  Inject({{"\xc3\xbc@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"\xc3\xbc@client.test"});
  const LogEntry bounce = EntriesFor(entries, "\xc3\xbc@client.test").back();
  EXPECT_EQ(bounce.type, "Bounce");
  EXPECT_EQ(bounce.enhanced, "5.6.7");
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "MAIL"));
}

}  // namespace
}  // namespace volley
