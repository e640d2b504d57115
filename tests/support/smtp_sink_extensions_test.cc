// The sink's ESMTP extensions, configured greetings, faults and transcripts, over a raw
// client (tests/support/raw_smtp_client.h) and the injector.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/smtp_injector.h"
#include "engine/smtp/reply.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/smtp_sink_test_util.h"

namespace volley::test_support {
namespace {

using bench::InjectAll;
using bench::InjectMessage;
using bench::InjectorOptions;
using bench::InjectResult;
using sink_test::Recording;
using sink_test::Simple;
using sink_test::StartSink;
using sink_test::WaitForTranscript;

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::StartsWith;

TEST(SmtpSinkExtensionsTest, EhloFollowsTheOptions) {
  SinkOptions options;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->ReadFinal(), "220 sink.localdomain ESMTP Volley");
  EXPECT_THAT(client->Ehlo(), ElementsAre("250-sink.localdomain", "250-PIPELINING",
                                          "250-SIZE 268435456", "250-8BITMIME", "250-SMTPUTF8",
                                          "250-DSN", "250-CHUNKING", "250 ENHANCEDSTATUSCODES"));

  options.pipelining = false;
  options.eightbitmime = false;
  options.smtputf8 = false;
  options.chunking = false;
  options.dsn = false;
  options.max_message_size = 5000;
  std::unique_ptr<SmtpSink> plain = StartSink(options);
  ASSERT_NE(plain, nullptr);
  auto plain_client = RawSmtpClient::Connect("127.0.0.1", plain->port());
  ASSERT_NE(plain_client, nullptr);
  EXPECT_THAT(plain_client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(plain_client->Ehlo(),
              ElementsAre("250-sink.localdomain", "250-SIZE 5000", "250 ENHANCEDSTATUSCODES"));
  EXPECT_THAT(plain_client->Command("MAIL FROM:<a@x.test> BODY=8BITMIME"), StartsWith("555 5.5.4"));
  EXPECT_THAT(plain_client->Command("MAIL FROM:<a@x.test> SIZE=5001"), StartsWith("552 5.3.4"));
  EXPECT_THAT(plain_client->Command("BDAT 0 LAST"), StartsWith("502 5.5.1"));
  EXPECT_EQ(plain_client->Command("MAIL FROM:<a@x.test> SIZE=5000 BODY=7BIT"), "250 2.1.0 Ok");
  EXPECT_THAT(plain_client->Command("RCPT TO:<b@y.test> NOTIFY=NEVER"), StartsWith("555 5.5.4"));
}

TEST(SmtpSinkExtensionsTest, BdatDsnAndSmtputf8AreRecorded) {
  std::unique_ptr<SmtpSink> sink = StartSink(Recording());
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  client->Ehlo();
  const std::string chunk1 = "Subject: x\r\n\r\n.leading dot stays\r\n";
  const std::string chunk2 = "\xC3\xA9t\xC3\xA9\r\n";
  ASSERT_TRUE(client->Send(absl::StrCat(
      "MAIL FROM:<s@x.test> SMTPUTF8 RET=HDRS ENVID=id+2B1 SIZE=", chunk1.size() + chunk2.size(),
      "\r\nRCPT TO:<a@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@y.test\r\n"
      "RCPT TO:<reject@y.test> NOTIFY=NEVER\r\n"
      "RCPT TO:<b@y.test>\r\n"
      "BDAT ",
      chunk1.size(), "\r\n", chunk1, "BDAT ", chunk2.size(), " LAST\r\n", chunk2)));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("550 5.1.1 "));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 2.0.0 Ok: "));
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 2.0.0 Ok: queued as S"));
  // Bad DSN values.
  EXPECT_THAT(client->Command("MAIL FROM:<s@x.test> RET=ALL"), StartsWith("501 5.5.4 "));

  ASSERT_TRUE(sink->WaitForMessages(1, absl::Seconds(10)));
  std::vector<ReceivedMessage> messages = sink->TakeMessages();
  ASSERT_EQ(messages.size(), 1u);
  const ReceivedMessage& m = messages[0];
  EXPECT_EQ(m.content, chunk1 + chunk2);
  EXPECT_TRUE(m.bdat);
  EXPECT_TRUE(m.smtputf8_requested);
  EXPECT_FALSE(m.tls);
  EXPECT_NE(m.session_id, 0u);
  using Params = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(m.mail_params, (Params{{"SMTPUTF8", ""},
                                   {"RET", "HDRS"},
                                   {"ENVID", "id+2B1"},
                                   {"SIZE", absl::StrCat(chunk1.size() + chunk2.size())}}));
  EXPECT_THAT(m.recipients, ElementsAre("a@y.test", "b@y.test"));
  ASSERT_EQ(m.recipient_params.size(), 2u);
  EXPECT_EQ(m.recipient_params[0],
            (Params{{"NOTIFY", "SUCCESS,FAILURE"}, {"ORCPT", "rfc822;a@y.test"}}));
  EXPECT_TRUE(m.recipient_params[1].empty());
}

TEST(SmtpSinkExtensionsTest, MaxRecipients) {
  SinkOptions sink_options = Recording();
  sink_options.max_recipients = 2;
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 1;
  absl::StatusOr<InjectResult> result = InjectAll(
      options,
      [](size_t) {
        InjectMessage m;
        m.mail_from = "s@x.test";
        m.recipients = {"a@y.test", "b@y.test", "c@y.test"};
        m.content = "Subject: x\r\n\r\nx\r\n";
        return m;
      },
      1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->replies[0].code, 250);
  EXPECT_EQ(result->recipient_replies[0][2].code, 452);
  EXPECT_EQ(result->recipient_replies[0][2].enhanced->ToString(), "4.5.3");
  ASSERT_TRUE(sink->WaitForMessages(1, absl::Seconds(10)));
  EXPECT_THAT(sink->TakeMessages()[0].recipients, ElementsAre("a@y.test", "b@y.test"));
}

TEST(SmtpSinkExtensionsTest, TransientGreeting) {
  SinkOptions options;
  options.greeting = smtp::MakeReply(421, "4.3.2", "sink.localdomain Service not available");
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->ReadFinal(), "421 4.3.2 sink.localdomain Service not available");
  EXPECT_TRUE(client->ReadsEof());
}

TEST(SmtpSinkExtensionsTest, MaxMessagesPerConnection) {
  SinkOptions options;
  options.max_messages_per_connection = 2;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  for (int connection = 0; connection < 2; ++connection) {
    auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
    ASSERT_NE(client, nullptr);
    ASSERT_THAT(client->ReadFinal(), StartsWith("220 "));
    ASSERT_THAT(client->Command("EHLO client.test"), StartsWith("250 "));
    for (int i = 0; i < 2; ++i) {
      EXPECT_THAT(client->Command("MAIL FROM:<s@x.test>"), StartsWith("250 "));
      EXPECT_THAT(client->Command("RCPT TO:<a@y.test>"), StartsWith("250 "));
      EXPECT_THAT(client->Command("DATA"), StartsWith("354 "));
      EXPECT_THAT(client->Command("Subject: x\r\n\r\nx\r\n."), StartsWith("250 "));
    }
    // The third on the same connection is refused and the connection ends; a new one starts
    // afresh.
    EXPECT_EQ(client->Command("MAIL FROM:<s@x.test>"),
              "421 4.7.0 Too many messages on this connection");
    EXPECT_TRUE(client->ReadsEof());
  }
  EXPECT_EQ(sink->messages(), 4u);
}

TEST(SmtpSinkExtensionsTest, MaxConnections) {
  SinkOptions options;
  options.max_connections = 2;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto first = RawSmtpClient::Connect("127.0.0.1", sink->port());
  auto second = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_THAT(first->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(second->ReadFinal(), StartsWith("220 "));
  auto third = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->ReadFinal(), "421 4.7.0 Too many connections");
  EXPECT_TRUE(third->ReadsEof());
  // One ends: the next connection is taken.
  EXPECT_EQ(first->Command("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(first->ReadsEof());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::string greeting;
  while (absl::Now() < deadline) {
    auto next = RawSmtpClient::Connect("127.0.0.1", sink->port());
    ASSERT_NE(next, nullptr);
    greeting = next->ReadFinal();
    if (absl::StartsWith(greeting, "220 ")) break;
    absl::SleepFor(absl::Milliseconds(20));  // the first session's end is still being counted
  }
  EXPECT_THAT(greeting, StartsWith("220 "));
  EXPECT_THAT(second->Command("NOOP"), StartsWith("250 "));
}

TEST(SmtpSinkExtensionsTest, PermanentGreeting) {
  SinkOptions options = Recording();
  options.greeting = smtp::MakeReply(554, "5.3.2", "sink.localdomain No service");
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->ReadFinal(), "554 5.3.2 sink.localdomain No service");
  EXPECT_THAT(client->Command("EHLO client.test"), StartsWith("503 5.5.1 "));
  EXPECT_THAT(client->Command("MAIL FROM:<a@x.test>"), StartsWith("503 5.5.1 "));
  EXPECT_EQ(client->Command("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(client->ReadsEof());
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 3);
  ASSERT_TRUE(t.has_value());
  EXPECT_THAT(t->commands, ElementsAre("EHLO client.test", "MAIL FROM:<a@x.test>", "QUIT"));
}

TEST(SmtpSinkExtensionsTest, DropDataFaultCutsTheConnectionInTheData) {
  std::unique_ptr<SmtpSink> sink = StartSink(Recording());
  ASSERT_NE(sink, nullptr);
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 1;
  const std::vector<std::vector<std::string>> recipients = {{"ok@y.test", "dropdata@y.test"},
                                                            {"ok@y.test"}};
  absl::StatusOr<InjectResult> result = InjectAll(
      options,
      [&recipients](size_t i) {
        InjectMessage m;
        m.mail_from = "s@x.test";
        m.recipients = recipients[i];
        m.content = "Subject: x\r\n\r\n" + std::string(100000, 'x') + "\r\n";
        return m;
      },
      recipients.size());
  ASSERT_TRUE(result.ok()) << result.status();
  // Both RCPTs were accepted, then the connection went away without a reply to the data.
  EXPECT_EQ(result->recipient_replies[0][1].code, 250);
  EXPECT_EQ(result->replies[0].code, 0);
  EXPECT_EQ(result->replies[1].code, 250);
  ASSERT_TRUE(sink->WaitForMessages(1, absl::Seconds(10)));
  EXPECT_EQ(sink->messages(), 1u);

  // With BDAT: the MAIL and RCPT replies arrive, then nothing but the end of the connection.
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  client->Ehlo();
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.test>\r\nRCPT TO:<DropData-1@y.test>\r\nBDAT 10\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  ASSERT_TRUE(client->Send("12345"));
  EXPECT_TRUE(client->ReadsEof());
  // A message without content ("BDAT 0 LAST") is dropped at its end instead.
  client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  client->Ehlo();
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.test>\r\nRCPT TO:<dropdata@y.test>\r\nBDAT 0 LAST\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_TRUE(client->ReadsEof());
  EXPECT_EQ(sink->messages(), 1u);
}

TEST(SmtpSinkExtensionsTest, TranscriptsRecordEachSession) {
  std::unique_ptr<SmtpSink> sink = StartSink(Recording());
  ASSERT_NE(sink, nullptr);
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 2;
  options.messages_per_connection = 2;
  absl::StatusOr<InjectResult> result = InjectAll(options, &Simple, 6);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->accepted, 6u);
  ASSERT_TRUE(sink->WaitForMessages(6, absl::Seconds(10)));
  std::vector<ReceivedMessage> messages = sink->TakeMessages();
  // Every session ends with QUIT (once the injector's last one has been read). The injector
  // may open a session that finds no message left: EHLO and QUIT only.
  std::vector<SessionTranscript> transcripts;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  auto all_quit = [&transcripts] {
    return std::all_of(transcripts.begin(), transcripts.end(),
                       [](const SessionTranscript& t) { return t.commands.back() == "QUIT"; });
  };
  while (true) {
    transcripts = sink->Transcripts();
    if ((transcripts.size() >= 3 && all_quit()) || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_GE(transcripts.size(), 3u);
  std::map<uint64_t, const SessionTranscript*> by_id;
  size_t transactions = 0;
  for (const SessionTranscript& t : transcripts) {
    by_id[t.session_id] = &t;
    EXPECT_EQ(t.local_address, "127.0.0.1");
    EXPECT_EQ(t.peer_address, "127.0.0.1");
    EXPECT_FALSE(t.tls);
    EXPECT_EQ(t.auth_user, "");
    ASSERT_GE(t.commands.size(), 2u);
    EXPECT_THAT(t.commands.front(), StartsWith("EHLO "));
    EXPECT_EQ(t.commands.back(), "QUIT");
    // EHLO, then MAIL, RCPT, DATA per message (no body lines), then QUIT.
    EXPECT_EQ((t.commands.size() - 2) % 3, 0u);
    EXPECT_LE(t.commands.size(), 2 + 3 * 2u);
    transactions += (t.commands.size() - 2) / 3;
    for (size_t i = 1; i + 1 < t.commands.size(); i += 3) {
      EXPECT_THAT(t.commands[i], StartsWith("MAIL FROM:<"));
      EXPECT_THAT(t.commands[i + 1], StartsWith("RCPT TO:<"));
      EXPECT_EQ(t.commands[i + 2], "DATA");
    }
  }
  EXPECT_EQ(transactions, 6u);
  EXPECT_EQ(by_id.size(), transcripts.size());
  for (const ReceivedMessage& m : messages) {
    ASSERT_TRUE(by_id.count(m.session_id)) << m.session_id;
    EXPECT_THAT(by_id[m.session_id]->commands,
                Contains(absl::StrCat("MAIL FROM:<", m.mail_from, ">")));
  }
}

TEST(SmtpSinkExtensionsTest, NoTranscriptsWithoutRecord) {
  std::unique_ptr<SmtpSink> sink = StartSink(SinkOptions());
  ASSERT_NE(sink, nullptr);
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 1;
  ASSERT_TRUE(InjectAll(options, &Simple, 2).ok());
  EXPECT_TRUE(sink->Transcripts().empty());
}

}  // namespace
}  // namespace volley::test_support
