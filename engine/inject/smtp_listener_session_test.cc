// SmtpListener over real sockets on loopback: whole sessions, IPv6, SO_REUSEPORT, replies
// held by the handler, and BDAT chunks split across reads.
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/inject/smtp_listener.h"
#include "engine/inject/smtp_listener_test_fixture.h"
#include "engine/smtp/reply.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"

namespace volley::inject {
namespace {

using smtp::MakeReply;
using smtp::MessageResponse;
using test_support::RawSmtpClient;

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::StartsWith;

TEST(SmtpListenerTest, FullSession) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.hostname = "sink.test";
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  ASSERT_NE(listener->port(), 0);

  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->ReadFinal(), "220 sink.test ESMTP Volley");
  ASSERT_TRUE(client->Send("EHLO me\r\n"));
  EXPECT_THAT(
      client->ReadReply(),
      ElementsAre("250-sink.test", "250-PIPELINING", StartsWith("250-SIZE "), "250-8BITMIME",
                  "250-SMTPUTF8", "250-DSN", "250-CHUNKING", "250 ENHANCEDSTATUSCODES"));
  ASSERT_TRUE(client->Send("MAIL FROM:<s@example.com>\r\nRCPT TO:<r@example.org>\r\nDATA\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("354 "));
  const std::string body = "Subject: t\r\n\r\n" + std::string(200000, 'b') + "\r\n..dot\r\n";
  ASSERT_TRUE(client->Send(body + ".\r\nQUIT\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.0.0 Ok: queued as M1");
  EXPECT_EQ(client->ReadFinal(), "221 2.0.0 Bye");
  EXPECT_TRUE(client->ReadsEof());
  {
    std::lock_guard<std::mutex> lock(handler.mutex);
    ASSERT_EQ(handler.envelopes.size(), 1u);
    EXPECT_EQ(handler.envelopes[0].peer_address, "127.0.0.1");
    EXPECT_EQ(handler.envelopes[0].local_address, "127.0.0.1");
    EXPECT_EQ(handler.envelopes[0].mail_from, "s@example.com");
    EXPECT_EQ(handler.contents[0],
              "Subject: t\r\n\r\n" + std::string(200000, 'b') + "\r\n.dot\r\n");
  }
  // A client that has gone lets the listener close at once (otherwise it lingers on the
  // connection for a while to make sure the 221 arrives).
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, Ipv6) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.address = "::1";
  std::unique_ptr<SmtpListener> listener = loop.Call([&]() -> std::unique_ptr<SmtpListener> {
    absl::StatusOr<std::unique_ptr<SmtpListener>> l =
        SmtpListener::Create(loop.loop(), options, &handler);
    return l.ok() ? std::move(*l) : nullptr;
  });
  if (listener == nullptr) {
    loop.StopAndJoin();
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  auto client = RawSmtpClient::Connect("::1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  ASSERT_TRUE(client->Send(
      "EHLO me\r\nMAIL FROM:<s@x.org>\r\nRCPT TO:<r@x.org>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n"));
  std::string last;
  for (int i = 0; i < 6; ++i) last = client->ReadFinal();
  EXPECT_EQ(last, "221 2.0.0 Bye");
  {
    std::lock_guard<std::mutex> lock(handler.mutex);
    ASSERT_EQ(handler.envelopes.size(), 1u);
    EXPECT_EQ(handler.envelopes[0].peer_address, "::1");
    EXPECT_EQ(handler.envelopes[0].local_address, "::1");
  }
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, TwoLoopsShareThePortWithReusePort) {
  LoopThread loop_a, loop_b;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.hostname = "a.test";
  std::unique_ptr<SmtpListener> a = CreateListener(loop_a, options, &handler);
  ASSERT_NE(a, nullptr);
  options.port = a->port();
  options.session.hostname = "b.test";
  std::unique_ptr<SmtpListener> b = CreateListener(loop_b, options, &handler);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->port(), a->port());

  // The kernel spreads connections by a hash of the addresses: with enough of them both
  // listeners get some.
  bool seen_a = false, seen_b = false;
  for (int i = 0; i < 200 && !(seen_a && seen_b); ++i) {
    auto client = RawSmtpClient::Connect("127.0.0.1", a->port());
    ASSERT_NE(client, nullptr);
    const std::string greeting = client->ReadFinal();
    seen_a |= greeting == "220 a.test ESMTP Volley";
    seen_b |= greeting == "220 b.test ESMTP Volley";
    ASSERT_TRUE(client->Send("QUIT\r\n"));
    EXPECT_EQ(client->ReadFinal(), "221 2.0.0 Bye");
  }
  EXPECT_TRUE(seen_a);
  EXPECT_TRUE(seen_b);
  CloseListener(loop_a, a);
  CloseListener(loop_b, b);
  loop_a.StopAndJoin();
  loop_b.StopAndJoin();
}

TEST(SmtpListenerTest, HeldMessageBackpressureAndPipelinedCommands) {
  LoopThread loop;
  RecordingHandler handler;
  handler.hold = true;
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, SmtpListenerOptions(), &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  ASSERT_TRUE(client->Send("EHLO me\r\n"));
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 "));
  ASSERT_TRUE(client->Send(
      "MAIL FROM:<s@x.org>\r\nRCPT TO:<r@x.org>\r\nDATA\r\none\r\n.\r\nNOOP\r\nQUIT\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("354 "));
  // Wait (bounded) until the handler has the message, then answer it from the loop.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && loop.Call([&] {
    std::lock_guard<std::mutex> lock(handler.mutex);
    return handler.held.size();
  }) == 0) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  loop.Call([&] {
    absl::AnyInvocable<void(MessageResponse)> done;
    {
      std::lock_guard<std::mutex> lock(handler.mutex);
      EXPECT_EQ(handler.held.size(), 1u);
      if (!handler.held.empty()) done = std::move(handler.held[0]);
    }
    // Unlocked: the reply releases the pipelined commands, which reach OnCommandLine.
    if (done) done(MakeReply(250, "2.0.0", "Ok: later"));
    return 0;
  });
  EXPECT_EQ(client->ReadFinal(), "250 2.0.0 Ok: later");
  EXPECT_EQ(client->ReadFinal(), "250 2.0.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "221 2.0.0 Bye");
  EXPECT_TRUE(client->ReadsEof());
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, BdatChunksSplitAcrossReads) {
  LoopThread loop;
  RecordingHandler handler;
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, SmtpListenerOptions(), &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo("me"), Contains("250-CHUNKING"));
  std::string chunk1(300000, 'a');
  chunk1[1000] = '\0';
  const std::string chunk2 = "\r\n.\r\nend\r\n";
  ASSERT_TRUE(client->Send(
      absl::StrCat("MAIL FROM:<s@x.org>\r\nRCPT TO:<r@x.org>\r\nBDAT ", chunk1.size(), "\r\n")));
  // The chunk in pieces of odd sizes, the next command right behind it.
  for (size_t i = 0; i < chunk1.size(); i += 7919) {
    ASSERT_TRUE(client->Send(chunk1.substr(i, 7919)));
  }
  ASSERT_TRUE(client->Send(absl::StrCat("BDAT ", chunk2.size(), " LAST\r\n", chunk2, "QUIT\r\n")));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.0.0 Ok: 300000 octets received");
  EXPECT_EQ(client->ReadFinal(), "250 2.0.0 Ok: queued as M1");
  EXPECT_EQ(client->ReadFinal(), "221 2.0.0 Bye");
  {
    std::lock_guard<std::mutex> lock(handler.mutex);
    ASSERT_EQ(handler.contents.size(), 1u);
    EXPECT_EQ(handler.contents[0], chunk1 + chunk2);
  }
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

}  // namespace
}  // namespace volley::inject
