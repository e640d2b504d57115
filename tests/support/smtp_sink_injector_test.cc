// The injector (//bench:smtp_injector) against the sink, end to end on loopback: volume,
// faults by recipient, delays, timeouts, reconnections and refused connections.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/smtp_injector.h"
#include "engine/base/net_address.h"
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
using sink_test::BodyFor;
using sink_test::Simple;
using sink_test::StartSink;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

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

// A client that leaves while its replies are held back leaves the sink a shut connection with
// writes waiting; stopping the sink drops them instead of waiting out the delay.
TEST(SmtpSinkTest, StopDropsRepliesHeldBackForAClientThatLeft) {
  SinkOptions sink_options;
  sink_options.reply_delay = absl::Seconds(30);
  std::unique_ptr<SmtpSink> sink = StartSink(sink_options);
  ASSERT_NE(sink, nullptr);
  {
    std::unique_ptr<RawSmtpClient> client = RawSmtpClient::Connect("127.0.0.1", sink->port());
    ASSERT_NE(client, nullptr);
    // The greeting is held back; the client leaves without it.
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  auto stats = [&] { return sink->connection_stats("127.0.0.1"); };
  while ((stats().accepted == 0 || stats().open > 0) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(stats().accepted, 1u);
  ASSERT_EQ(stats().open, 0) << "the session did not end when the client left";
  const absl::Time start = absl::Now();
  sink->Stop();
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
