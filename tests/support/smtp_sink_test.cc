// The injector against the sink, end to end on loopback.
#include "tests/support/smtp_sink.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/smtp_injector.h"
#include "engine/base/net_address.h"
#include "engine/smtp/reply.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"
#include "tls/testdata/testdata_paths.h"

namespace volley::test_support {
namespace {

using bench::InjectAll;
using bench::InjectMessage;
using bench::InjectorOptions;
using bench::InjectResult;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<SmtpSink> StartSink(const SinkOptions& options) {
  absl::StatusOr<std::unique_ptr<SmtpSink>> sink = SmtpSink::Start(options);
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? std::move(*sink) : nullptr;
}

// A body that exercises transparency: lines starting with dots, an empty line, a long line.
std::string BodyFor(size_t i) {
  std::string body =
      absl::StrCat("From: s", i, "@test.example\r\nSubject: message ", i, "\r\n\r\n");
  absl::StrAppend(&body, ".starts with a dot\r\n", "..two dots\r\n", ".\r\n", "\r\n");
  absl::StrAppend(&body, std::string(100 + i % 900, static_cast<char>('a' + i % 26)), "\r\n");
  absl::StrAppend(&body, "last line ", i, "\r\n");
  return body;
}

InjectMessage Simple(size_t i) {
  InjectMessage m;
  m.mail_from = absl::StrCat("s", i, "@test.example");
  m.recipients = {absl::StrCat("r", i, "@dest.example")};
  m.content = BodyFor(i);
  return m;
}

TEST(SmtpSinkTest, FiveHundredMessagesOverFourConnectionsArriveIntact) {
  SinkOptions sink_options;
  sink_options.record = true;
  sink_options.threads = 2;
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);

  InjectorOptions options;
  options.port = sink->port();
  options.connections = 4;
  constexpr size_t kCount = 500;
  std::vector<size_t> generated;
  absl::StatusOr<InjectResult> result = InjectAll(
      options,
      [&generated](size_t i) {
        generated.push_back(i);
        return Simple(i);
      },
      kCount);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, kCount);
  EXPECT_EQ(result->rejected, 0u);
  EXPECT_EQ(result->failed, 0u);
  // Generated lazily, once each, in order.
  ASSERT_EQ(generated.size(), kCount);
  EXPECT_TRUE(std::is_sorted(generated.begin(), generated.end()));
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(result->replies[i].code, 250) << i;
    EXPECT_THAT(result->replies[i].Text(), StartsWith("Ok: queued as S"));
    EXPECT_GE(result->acked_at[i], result->started);
    EXPECT_LE(result->acked_at[i], result->finished);
  }

  ASSERT_TRUE(sink->WaitForMessages(kCount, absl::Seconds(10)));
  EXPECT_EQ(sink->messages(), kCount);
  EXPECT_EQ(sink->recipients(), kCount);
  std::vector<ReceivedMessage> received = sink->TakeMessages();
  ASSERT_EQ(received.size(), kCount);
  std::map<std::string, const ReceivedMessage*> by_sender;
  uint64_t bytes = 0;
  for (const ReceivedMessage& m : received) {
    by_sender[m.mail_from] = &m;
    bytes += m.content.size();
  }
  EXPECT_EQ(sink->bytes(), bytes);
  ASSERT_EQ(by_sender.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    const ReceivedMessage* m = by_sender[absl::StrCat("s", i, "@test.example")];
    ASSERT_NE(m, nullptr) << i;
    EXPECT_EQ(m->content, BodyFor(i)) << i;
    EXPECT_THAT(m->recipients, ElementsAre(absl::StrCat("r", i, "@dest.example")));
    EXPECT_EQ(m->local_address, "127.0.0.1");
    EXPECT_EQ(m->peer_address, "127.0.0.1");
  }
  EXPECT_TRUE(sink->TakeMessages().empty());
}

// Faults by recipient local part, pipelined or in lock-step.
class SinkFaultTest : public ::testing::TestWithParam<bool> {};

TEST_P(SinkFaultTest, FaultsByRecipient) {
  SinkOptions sink_options;
  sink_options.record = true;
  sink_options.pipelining = GetParam();
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);

  const std::vector<std::vector<std::string>> recipients = {
      {"tempfail1@d.example", "ok0@d.example"},       // 0: one refused, one accepted
      {"reject@d.example"},                           // 1: all refused
      {"bounce-me@d.example", "TempFail@d.example"},  // 2: all refused
      {"datafail@d.example", "ok3@d.example"},        // 3: 451 after the data
      {"permdatafail@d.example"},                     // 4: 554 after the data
      {"disconnect@d.example"},                       // 5: dropped without a reply
      {"ok6@d.example"},                              // 6: fine, on a new connection
  };
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 1;
  absl::StatusOr<InjectResult> result = InjectAll(
      options,
      [&recipients](size_t i) {
        InjectMessage m;
        m.mail_from = absl::StrCat("s", i, "@test.example");
        m.recipients = recipients[i];
        m.content = absl::StrCat("Subject: ", i, "\r\n\r\nbody\r\n");
        return m;
      },
      recipients.size());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& replies = result->replies;
  const auto& rcpt = result->recipient_replies;

  EXPECT_EQ(rcpt[0][0].code, 451);
  EXPECT_EQ(rcpt[0][0].enhanced->ToString(), "4.3.0");
  EXPECT_EQ(rcpt[0][1].code, 250);
  EXPECT_EQ(replies[0].code, 250);

  EXPECT_EQ(rcpt[1][0].code, 550);
  EXPECT_EQ(replies[1].code, 550);
  EXPECT_EQ(replies[1].enhanced->ToString(), "5.1.1");

  EXPECT_EQ(rcpt[2][0].code, 550);
  EXPECT_EQ(rcpt[2][1].code, 451);
  EXPECT_TRUE(replies[2].code == 451 || replies[2].code == 550) << replies[2].code;

  EXPECT_EQ(replies[3].code, 451);
  EXPECT_EQ(replies[3].enhanced->ToString(), "4.3.0");
  EXPECT_EQ(replies[4].code, 554);
  EXPECT_EQ(replies[4].enhanced->ToString(), "5.6.0");
  EXPECT_EQ(replies[5].code, 0);
  EXPECT_THAT(replies[5].Text(), HasSubstr("closed"));
  EXPECT_EQ(replies[6].code, 250);

  EXPECT_EQ(result->accepted, 2u);
  EXPECT_EQ(result->rejected, 4u);
  EXPECT_EQ(result->failed, 1u);

  ASSERT_TRUE(sink->WaitForMessages(2, absl::Seconds(10)));
  std::vector<ReceivedMessage> received = sink->TakeMessages();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].mail_from, "s0@test.example");
  EXPECT_THAT(received[0].recipients, ElementsAre("ok0@d.example"));
  EXPECT_EQ(received[1].mail_from, "s6@test.example");
  EXPECT_EQ(sink->messages(), 2u);
  EXPECT_EQ(sink->recipients(), 2u);
}

INSTANTIATE_TEST_SUITE_P(PipeliningOrLockStep, SinkFaultTest, ::testing::Bool());

TEST(SmtpSinkTest, SeveralAddressesShareThePort) {
  SinkOptions sink_options;
  sink_options.addresses = {"127.0.0.2", "127.0.0.3"};
  sink_options.record = true;
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);
  for (const std::string host : {"127.0.0.2", "127.0.0.3"}) {
    InjectorOptions options;
    options.host = host;
    options.port = sink->port();
    options.connections = 2;
    absl::StatusOr<InjectResult> result = InjectAll(options, &Simple, 3);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->accepted, 3u) << host;
  }
  ASSERT_TRUE(sink->WaitForMessages(6, absl::Seconds(10)));
  std::map<std::string, int> by_local;
  for (const ReceivedMessage& m : sink->TakeMessages()) ++by_local[m.local_address];
  EXPECT_EQ(by_local["127.0.0.2"], 3);
  EXPECT_EQ(by_local["127.0.0.3"], 3);
  EXPECT_EQ(by_local.size(), 2u);
}

TEST(SmtpSinkTest, ReplyDelayIsHonoured) {
  constexpr absl::Duration kDelay = absl::Milliseconds(100);
  SinkOptions sink_options;
  sink_options.reply_delay = kDelay;
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 1;
  absl::StatusOr<InjectResult> result = InjectAll(options, &Simple, 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, 1u);
  // Greeting, EHLO, the pipelined MAIL/RCPT/DATA and the end of data: four delayed round
  // trips before the message is acknowledged.
  EXPECT_GE(result->acked_at[0] - result->started, 4 * kDelay);
}

TEST(SmtpSinkTest, InjectorTimesOutWithoutProgress) {
  SinkOptions sink_options;
  sink_options.reply_delay = absl::Seconds(30);
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 2;
  options.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::StatusOr<InjectResult> result = InjectAll(options, &Simple, 5);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(SmtpSinkTest, MessagesPerConnectionReconnects) {
  SinkOptions sink_options;
  sink_options.record = true;
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);
  InjectorOptions options;
  options.port = sink->port();
  options.connections = 1;
  options.messages_per_connection = 3;
  absl::StatusOr<InjectResult> result = InjectAll(options, &Simple, 10);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, 10u);
  ASSERT_TRUE(sink->WaitForMessages(10, absl::Seconds(10)));
}

TEST(SmtpSinkTest, ConnectionRefusedFailsEveryMessage) {
  // A port that nobody listens on: bind one, note it, close it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  absl::StatusOr<sockaddr_storage> address = MakeSocketAddress("127.0.0.1", 0);
  ASSERT_TRUE(address.ok());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&*address), sizeof(sockaddr_in)), 0);
  sockaddr_storage bound;
  socklen_t length = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const uint16_t port = PortOf(reinterpret_cast<sockaddr*>(&bound));
  ::close(fd);

  InjectorOptions options;
  options.port = port;
  options.connections = 2;
  size_t generated = 0;
  absl::StatusOr<InjectResult> result = InjectAll(
      options,
      [&generated](size_t i) {
        ++generated;
        return Simple(i);
      },
      20);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->failed, 20u);
  EXPECT_EQ(generated, 0u);
  EXPECT_THAT(result->replies[19].Text(), HasSubstr("refused"));
}

TEST(SmtpSinkTest, WaitForMessagesTimesOut) {
  std::unique_ptr<SmtpSink> sink = StartSink(SinkOptions());
  ASSERT_NE(sink, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(sink->WaitForMessages(1, absl::Milliseconds(100)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  EXPECT_TRUE(sink->WaitForMessages(0, absl::Milliseconds(100)));
  sink->Stop();
  sink->Stop();  // idempotent
}

TEST(SmtpSinkTest, StartFailsOnBadAddress) {
  SinkOptions options;
  options.addresses = {"not-an-ip"};
  EXPECT_FALSE(SmtpSink::Start(options).ok());
  options.addresses = {"127.0.0.1", "not-an-ip"};
  EXPECT_FALSE(SmtpSink::Start(options).ok());
}

}  // namespace
}  // namespace volley::test_support

namespace volley::test_support {
namespace {

TEST(SmtpSinkExtras, TempFailOnceAndConnectionStats) {
  SinkOptions options;
  options.addresses = {"127.0.0.1"};
  options.record = true;
  auto sink = SmtpSink::Start(options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  InjectorOptions injector;
  injector.port = (*sink)->port();
  injector.connections = 3;
  auto first = InjectAll(
      injector,
      [](size_t i) {
        InjectMessage m;
        m.mail_from = "a@b.test";
        m.recipients = {absl::StrCat("tempfailonce", i % 2, "@x.test")};
        m.content = "Subject: x\r\n\r\nx\r\n";
        return m;
      },
      4);
  ASSERT_TRUE(first.ok()) << first.status();
  // The first sight of each of the two addresses is refused, every later one accepted.
  int refused = 0;
  for (const smtp::Reply& r : first->replies) refused += r.code == 451;
  EXPECT_EQ(refused, 2);
  EXPECT_EQ((*sink)->messages(), 2u);
  const SmtpSink::ConnectionStats stats = (*sink)->connection_stats("127.0.0.1");
  EXPECT_GE(stats.accepted, 1u);
  EXPECT_LE(stats.max_open, 3);
  EXPECT_GE(stats.max_open, 1);
  EXPECT_EQ((*sink)->connection_stats("127.0.0.9").accepted, 0u);
}

}  // namespace
}  // namespace volley::test_support

// --- ESMTP extensions, faults, transcripts, TLS and AUTH, with a raw blocking client. ---

namespace volley::test_support {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Not;

SinkOptions Recording() {
  SinkOptions options;
  options.record = true;
  return options;
}

SinkOptions WithTls(SinkOptions options) {
  options.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  options.tls_key_file = tls::TlsTestDataPath("mx.key");
  return options;
}

// Waits (bounded) until the transcript of some session has `n` commands and returns it.
std::optional<SessionTranscript> WaitForTranscript(const SmtpSink& sink, size_t n,
                                                   size_t index = 0) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    std::vector<SessionTranscript> all = sink.Transcripts();
    if (all.size() > index && all[index].commands.size() >= n) return all[index];
    absl::SleepFor(absl::Milliseconds(2));
  }
  return std::nullopt;
}

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

TEST(SmtpSinkTlsTest, StartTlsSession) {
  std::unique_ptr<SmtpSink> sink = StartSink(WithTls(Recording()));
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo(), Contains("250-STARTTLS"));
  EXPECT_EQ(client->Command("STARTTLS"), "220 2.0.0 Ready to start TLS");
  ASSERT_TRUE(client->StartTls().ok());
  EXPECT_THAT(client->Ehlo(), Not(Contains("250-STARTTLS")));
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nDATA\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("354 "));
  EXPECT_THAT(client->Command("Subject: tls\r\n\r\nover TLS\r\n."), StartsWith("250 2.0.0 "));
  EXPECT_EQ(client->Command("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(client->ReadsEof());

  ASSERT_TRUE(sink->WaitForMessages(1, absl::Seconds(10)));
  std::vector<ReceivedMessage> messages = sink->TakeMessages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].tls);
  EXPECT_THAT(messages[0].tls_version, StartsWith("TLSv1."));
  EXPECT_EQ(messages[0].content, "Subject: tls\r\n\r\nover TLS\r\n");
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 7);
  ASSERT_TRUE(t.has_value());
  EXPECT_THAT(t->commands,
              ElementsAre("EHLO client.test", "STARTTLS", "EHLO client.test",
                          "MAIL FROM:<s@x.test>", "RCPT TO:<a@y.test>", "DATA", "QUIT"));
  EXPECT_TRUE(t->tls);
  EXPECT_EQ(t->tls_version, messages[0].tls_version);
}

// CVE-2011-0411: a MAIL pipelined behind STARTTLS in the clear is never executed.
TEST(SmtpSinkTlsTest, CommandsInjectedBeforeTheHandshakeAreDiscarded) {
  std::unique_ptr<SmtpSink> sink = StartSink(WithTls(Recording()));
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  client->Ehlo();
  ASSERT_TRUE(client->SendRaw("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n"));
  EXPECT_EQ(client->ReadFinal(), "220 2.0.0 Ready to start TLS");
  ASSERT_TRUE(client->StartTls().ok());
  client->Ehlo();
  // Had MAIL been taken, this RCPT would be accepted.
  EXPECT_THAT(client->Command("RCPT TO:<a@y.test>"), StartsWith("503 5.5.1 "));
  EXPECT_EQ(client->Command("MAIL FROM:<good@x.test>"), "250 2.1.0 Ok");
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 5);
  ASSERT_TRUE(t.has_value());
  EXPECT_THAT(t->commands, ElementsAre("EHLO client.test", "STARTTLS", "EHLO client.test",
                                       "RCPT TO:<a@y.test>", "MAIL FROM:<good@x.test>"));
}

TEST(SmtpSinkTlsTest, AuthAfterTls) {
  SinkOptions options = WithTls(Recording());
  options.auth_users = {{"alice", "secret"}};
  options.auth_required = true;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  std::vector<std::string> ehlo = client->Ehlo();
  EXPECT_THAT(ehlo, Not(Contains(HasSubstr("AUTH"))));
  const std::string plain = absl::Base64Escape(std::string("\0alice\0secret", 13));
  EXPECT_THAT(client->Command("AUTH PLAIN " + plain), StartsWith("538 5.7.11 "));
  EXPECT_THAT(client->Command("MAIL FROM:<s@x.test>"), StartsWith("530 5.7.0 "));
  EXPECT_THAT(client->Command("STARTTLS"), StartsWith("220 "));
  ASSERT_TRUE(client->StartTls().ok());
  EXPECT_THAT(client->Ehlo(), Contains("250-AUTH PLAIN LOGIN"));
  EXPECT_THAT(
      client->Command("AUTH PLAIN " + absl::Base64Escape(std::string("\0alice\0wrong", 12))),
      StartsWith("535 5.7.8 "));
  EXPECT_EQ(client->Command("AUTH LOGIN"), "334 VXNlcm5hbWU6");
  EXPECT_EQ(client->Command(absl::Base64Escape("alice")), "334 UGFzc3dvcmQ6");
  EXPECT_EQ(client->Command(absl::Base64Escape("secret")), "235 2.7.0 Authentication successful");
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nBDAT 3 LAST\r\nabc"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 2.0.0 Ok: queued as S"));
  ASSERT_TRUE(sink->WaitForMessages(1, absl::Seconds(10)));
  std::vector<ReceivedMessage> messages = sink->TakeMessages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].auth_user, "alice");
  EXPECT_TRUE(messages[0].tls);
  EXPECT_TRUE(messages[0].bdat);
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 12);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->auth_user, "alice");
  EXPECT_TRUE(t->tls);
}

TEST(SmtpSinkTlsTest, AuthWithoutTlsWhenAllowed) {
  SinkOptions options = Recording();
  options.auth_users = {{"bob", "pw"}};
  options.auth_requires_tls = false;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo(), Contains("250-AUTH PLAIN LOGIN"));
  EXPECT_EQ(client->Command("AUTH PLAIN"), "334 ");
  EXPECT_EQ(client->Command(absl::Base64Escape(std::string("\0bob\0pw", 7))),
            "235 2.7.0 Authentication successful");
  EXPECT_THAT(client->Command("AUTH PLAIN"), StartsWith("503 5.5.1 "));
}

TEST(SmtpSinkTlsTest, ImplicitTls) {
  SinkOptions options = WithTls(Recording());
  options.implicit_tls = true;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->StartTls("127.0.0.1").ok());
  EXPECT_EQ(client->ReadFinal(), "220 sink.localdomain ESMTP Volley");
  EXPECT_THAT(client->Ehlo(), Not(Contains("250-STARTTLS")));
  EXPECT_EQ(client->Command("MAIL FROM:<s@x.test>"), "250 2.1.0 Ok");
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 2);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->tls);
}

TEST(SmtpSinkTlsTest, StartTlsBreaksFault) {
  SinkOptions options = Recording();
  options.starttls_breaks = true;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo(), Contains("250-STARTTLS"));
  EXPECT_EQ(client->Command("STARTTLS"), "220 2.0.0 Ready to start TLS");
  EXPECT_FALSE(client->StartTls().ok());
}

TEST(SmtpSinkTlsTest, StartFailsOnBadTlsOptions) {
  SinkOptions options;
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  EXPECT_FALSE(SmtpSink::Start(options).ok());
  options = SinkOptions();
  options.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  EXPECT_FALSE(SmtpSink::Start(options).ok());  // no key
  options = SinkOptions();
  options.implicit_tls = true;
  EXPECT_FALSE(SmtpSink::Start(options).ok());  // no certificate
}

}  // namespace
}  // namespace volley::test_support
