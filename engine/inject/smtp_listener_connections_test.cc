// SmtpListener over real sockets on loopback: closing with clients connected, the grace
// period, the connection limit, and the connection counts it reports (the deadlines and the
// admission hook: smtp_listener_deadlines_test).
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/inject/smtp_listener.h"
#include "engine/inject/smtp_listener_test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"

namespace volley::inject {
namespace {

using test_support::RawSmtpClient;

using ::testing::StartsWith;

TEST(SmtpListenerTest, CloseWhileClientConnectedSends421) {
  LoopThread loop;
  RecordingHandler handler;
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, SmtpListenerOptions(), &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  ASSERT_TRUE(client->Send("EHLO me\r\n"));
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 "));
  EXPECT_EQ(loop.Call([&] { return listener->open_connections(); }), 1);
  const uint16_t port = listener->port();

  std::promise<void> closed;
  loop.Post([&] { listener->Close(absl::Seconds(30), [&closed] { closed.set_value(); }); });
  EXPECT_THAT(client->ReadFinal(), StartsWith("421 4.3.2 "));
  EXPECT_TRUE(client->ReadsEof());
  client.reset();
  // The listener finishes as soon as the client has gone, well before the grace period.
  EXPECT_EQ(closed.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  loop.Call([&] {
    listener.reset();
    return 0;
  });
  // No new connections after Close.
  EXPECT_EQ(RawSmtpClient::Connect("127.0.0.1", port), nullptr);
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, GraceExpiryClosesHard) {
  LoopThread loop;
  RecordingHandler handler;
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, SmtpListenerOptions(), &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  // Half a command: the session waits for its end before answering 421. It rides with a
  // whole one, so that the NOOP's reply shows the server has read it.
  ASSERT_TRUE(client->Send("NOOP\r\nNO"));
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 "));
  EXPECT_EQ(loop.Call([&] { return listener->open_connections(); }), 1);
  const absl::Time start = absl::Now();
  CloseListener(loop, listener, absl::Milliseconds(200));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_TRUE(client->ReadsEof());
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, MaxConnections) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.max_connections = 1;
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto first = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(first->ReadFinal(), StartsWith("220 "));
  auto second = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(second, nullptr);
  EXPECT_THAT(second->ReadFinal(), StartsWith("421 4.3.2 "));
  EXPECT_TRUE(second->ReadsEof());
  // The first connection is unaffected.
  ASSERT_TRUE(first->Send("NOOP\r\n"));
  EXPECT_EQ(first->ReadFinal(), "250 2.0.0 Ok");
  first.reset();
  second.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, ClosingReplyArrivesDespiteUnreadInput) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.max_errors = 2;
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  // The session hangs up after the second error with most of this still unread. Closing the
  // socket then would reset the connection and could destroy the 421 before it is read.
  std::string junk = "BAD\r\nBAD\r\n";
  for (int i = 0; i < 20000; ++i) junk += "JUNK LINE 0123456789\r\n";
  client->Send(junk);  // may fail part-way once the server has closed
  EXPECT_THAT(client->ReadFinal(), StartsWith("500 5.5.2 "));
  EXPECT_THAT(client->ReadFinal(), StartsWith("500 5.5.2 "));
  EXPECT_THAT(client->ReadFinal(), StartsWith("421 4.7.0 "));
  EXPECT_TRUE(client->ReadsEof());
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, CreateFailsWhenPortTakenWithoutReusePort) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.reuse_port = false;
  std::unique_ptr<SmtpListener> first = CreateListener(loop, options, &handler);
  ASSERT_NE(first, nullptr);
  options.port = first->port();
  const absl::Status status =
      loop.Call([&] { return SmtpListener::Create(loop.loop(), options, &handler).status(); });
  EXPECT_FALSE(status.ok());
  CloseListener(loop, first);
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, ReportsConnectionsOpenedAndClosed) {
  LoopThread loop;
  RecordingHandler handler;
  std::atomic<int> open{0};
  std::atomic<int> accepted{0};
  SmtpListenerOptions options;
  options.on_connections_changed = [&](int delta) {
    open += delta;
    if (delta > 0) ++accepted;
  };
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto first = RawSmtpClient::Connect("127.0.0.1", listener->port());
  auto second = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  first->ReadFinal();
  second->ReadFinal();
  EXPECT_EQ(open.load(), 2);
  ASSERT_TRUE(first->Send("QUIT\r\n"));
  EXPECT_EQ(first->ReadFinal(), "221 2.0.0 Bye");
  first.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (open.load() != 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(open.load(), 1);
  second.reset();
  CloseListener(loop, listener);
  EXPECT_EQ(open.load(), 0);
  EXPECT_EQ(accepted.load(), 2);
}

}  // namespace
}  // namespace volley::inject
