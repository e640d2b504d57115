#include "engine/inject/smtp_listener.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/base/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"
#include "tls/testdata/testdata_paths.h"
#include "tls/tls_context.h"

namespace volley::inject {
namespace {

using smtp::Envelope;
using smtp::MakeReply;
using smtp::MessageResponse;
using smtp::Reply;
using smtp::ServerSessionHandler;
using test_support::RawSmtpClient;

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A uv loop on its own thread, with a way to run code on it.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, &OnAsync);
    async_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  ~LoopThread() {
    if (thread_.joinable()) StopAndJoin();
  }

  uv_loop_t* loop() { return &loop_; }

  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(fn));
    }
    uv_async_send(&async_);
  }

  // Runs `fn` on the loop thread and waits for its result.
  template <typename F>
  auto Call(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    Post([&task] { task(); });
    return result.get();
  }

  // Ends the loop (all other handles must be closed by then) and checks that it closes clean.
  void StopAndJoin() {
    Post([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
    thread_.join();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

 private:
  static void OnAsync(uv_async_t* async) {
    auto* self = static_cast<LoopThread*>(async->data);
    std::vector<std::function<void()>> work;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      work.swap(self->queue_);
    }
    for (auto& fn : work) fn();
  }

  uv_loop_t loop_;
  uv_async_t async_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
};

class RecordingHandler : public ServerSessionHandler {
 public:
  void OnCommandLine(const Envelope&, absl::string_view line) override {
    std::lock_guard<std::mutex> lock(mutex);
    lines.emplace_back(line);
  }

  std::optional<Reply> CheckRecipient(const Envelope&, absl::string_view) override {
    return std::nullopt;
  }

  void OnMessage(Envelope envelope, std::string content,
                 absl::AnyInvocable<void(MessageResponse)> done) override {
    std::lock_guard<std::mutex> lock(mutex);
    envelopes.push_back(envelope);
    contents.push_back(content);
    if (hold) {
      held.push_back(std::move(done));
      return;
    }
    done(MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as M", envelopes.size())));
  }

  std::mutex mutex;
  std::vector<std::string> lines;  // every command line, in order
  std::vector<Envelope> envelopes;
  std::vector<std::string> contents;
  bool hold = false;  // keep `done` (set before traffic starts)
  std::vector<absl::AnyInvocable<void(MessageResponse)>> held;
};

// Closes the listener on its loop and waits for `done`.
void CloseListener(LoopThread& loop, std::unique_ptr<SmtpListener>& listener,
                   absl::Duration grace = absl::Seconds(5)) {
  std::promise<void> closed;
  loop.Post([&] { listener->Close(grace, [&closed] { closed.set_value(); }); });
  closed.get_future().wait();
  loop.Call([&] {
    listener.reset();
    return 0;
  });
}

std::unique_ptr<SmtpListener> CreateListener(LoopThread& loop, const SmtpListenerOptions& options,
                                             ServerSessionHandler* handler) {
  return loop.Call([&]() -> std::unique_ptr<SmtpListener> {
    absl::StatusOr<std::unique_ptr<SmtpListener>> listener =
        SmtpListener::Create(loop.loop(), options, handler);
    EXPECT_TRUE(listener.ok()) << listener.status();
    return listener.ok() ? std::move(*listener) : nullptr;
  });
}

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
  // Half a command: the session waits for its end before answering 421.
  ASSERT_TRUE(client->Send("NO"));
  EXPECT_EQ(loop.Call([&] { return listener->open_connections(); }), 1);
  const absl::Time start = absl::Now();
  CloseListener(loop, listener, absl::Milliseconds(200));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_TRUE(client->ReadsEof());
  loop.StopAndJoin();
}

TEST(SmtpListenerTest, IdleTimeout) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->ReadFinal(), StartsWith("421 4.4.2 "));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_TRUE(client->ReadsEof());
  client.reset();
  CloseListener(loop, listener);
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

}  // namespace
}  // namespace volley::inject

namespace volley::inject {
namespace {

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

namespace volley::inject {
namespace {

std::shared_ptr<tls::TlsContext> ServerTlsContext() {
  tls::TlsContextOptions options;
  options.role = tls::TlsContextOptions::Role::kServer;
  options.cert_file = tls::TlsTestDataPath("mx.pem");
  options.key_file = tls::TlsTestDataPath("mx.key");
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(options);
  CHECK_OK(context.status());
  return *std::move(context);
}

TEST(SmtpListenerTlsTest, StartTlsThenASessionUnderTls) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.tls = ServerTlsContext();
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo("me"), Contains("250-STARTTLS"));
  ASSERT_TRUE(client->Send("STARTTLS\r\n"));
  EXPECT_EQ(client->ReadFinal(), "220 2.0.0 Ready to start TLS");
  ASSERT_TRUE(client->StartTls().ok());
  // The session starts over: EHLO again, and no STARTTLS any more.
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.org>\r\n"));
  EXPECT_THAT(client->ReadFinal(), StartsWith("503 5.5.1 "));
  EXPECT_THAT(client->Ehlo("me"), Not(Contains(HasSubstr("STARTTLS"))));
  const std::string body = std::string(100000, 'x') + "\r\n";
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<r@x.org>\r\nDATA\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("354 "));
  ASSERT_TRUE(client->Send(body + ".\r\nQUIT\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.0.0 Ok: queued as M1");
  EXPECT_EQ(client->ReadFinal(), "221 2.0.0 Bye");
  EXPECT_TRUE(client->ReadsEof());
  {
    std::lock_guard<std::mutex> lock(handler.mutex);
    ASSERT_EQ(handler.envelopes.size(), 1u);
    EXPECT_TRUE(handler.envelopes[0].tls);
    EXPECT_THAT(handler.envelopes[0].tls_version, StartsWith("TLSv1."));
    EXPECT_FALSE(handler.envelopes[0].tls_cipher.empty());
    EXPECT_EQ(handler.envelopes[0].helo, "me");
    EXPECT_EQ(handler.contents[0], body);
  }
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

// CVE-2011-0411: commands sent in the clear right behind STARTTLS must never be executed, not
// even after the handshake.
TEST(SmtpListenerTlsTest, PlaintextAfterStartTlsIsNeverExecuted) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.tls = ServerTlsContext();
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo("me"), Contains("250-STARTTLS"));
  // One write: STARTTLS and an injected transaction.
  ASSERT_TRUE(client->SendRaw("STARTTLS\r\nMAIL FROM:<evil@x.org>\r\nRCPT TO:<victim@x.org>\r\n"));
  // Exactly one reply in the clear, then the handshake works.
  EXPECT_EQ(client->ReadFinal(), "220 2.0.0 Ready to start TLS");
  ASSERT_TRUE(client->StartTls().ok());
  EXPECT_THAT(client->Ehlo("me"), Contains("250 ENHANCEDSTATUSCODES"));
  // Had the injected MAIL been taken, this RCPT would be accepted, and DATA too.
  ASSERT_TRUE(client->Send("RCPT TO:<a@x.org>\r\nDATA\r\nQUIT\r\n"));
  EXPECT_THAT(client->ReadFinal(), StartsWith("503 5.5.1 "));
  EXPECT_THAT(client->ReadFinal(), StartsWith("503 5.5.1 "));
  EXPECT_EQ(client->ReadFinal(), "221 2.0.0 Bye");
  {
    std::lock_guard<std::mutex> lock(handler.mutex);
    EXPECT_THAT(handler.lines,
                ElementsAre("EHLO me", "STARTTLS", "EHLO me", "RCPT TO:<a@x.org>", "DATA", "QUIT"));
    EXPECT_TRUE(handler.envelopes.empty());
  }
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTlsTest, FailedHandshakeClosesTheConnection) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.tls = ServerTlsContext();
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  ASSERT_TRUE(client->Send("EHLO me\r\nSTARTTLS\r\n"));
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 "));
  EXPECT_EQ(client->ReadFinal(), "220 2.0.0 Ready to start TLS");
  // A client that goes on in the clear: the server closes (well before the read timeout).
  const absl::Time start = absl::Now();
  ASSERT_TRUE(client->SendRaw("MAIL FROM:<s@x.org>\r\n"));
  const std::string rest = client->ReadRawUntilEof();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(rest, Not(HasSubstr("250")));  // at most a TLS alert
  {
    std::lock_guard<std::mutex> lock(handler.mutex);
    EXPECT_THAT(handler.lines, ElementsAre("EHLO me", "STARTTLS"));
  }
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTlsTest, ImplicitTls) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.tls = ServerTlsContext();
  options.session.hostname = "tls.test";
  options.implicit_tls = true;
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->StartTls("localhost").ok());
  EXPECT_EQ(client->ReadFinal(), "220 tls.test ESMTP Volley");
  EXPECT_THAT(client->Ehlo("me"), Not(Contains(HasSubstr("STARTTLS"))));
  ASSERT_TRUE(
      client->Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<r@x.org>\r\nBDAT 5 LAST\r\nhelloQUIT\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.0.0 Ok: queued as M1");
  EXPECT_EQ(client->ReadFinal(), "221 2.0.0 Bye");
  {
    std::lock_guard<std::mutex> lock(handler.mutex);
    ASSERT_EQ(handler.envelopes.size(), 1u);
    EXPECT_TRUE(handler.envelopes[0].tls);
    EXPECT_TRUE(handler.envelopes[0].bdat);
    EXPECT_EQ(handler.contents[0], "hello");
  }
  // A client speaking plain SMTP gets nowhere.
  auto plain = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(plain, nullptr);
  ASSERT_TRUE(plain->SendRaw("EHLO me\r\n"));
  EXPECT_THAT(plain->ReadRawUntilEof(), Not(HasSubstr("250")));
  client.reset();
  plain.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
}

TEST(SmtpListenerTlsTest, ImplicitTlsNeedsAServerContext) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.implicit_tls = true;
  EXPECT_FALSE(
      loop.Call([&] { return SmtpListener::Create(loop.loop(), options, &handler).status(); })
          .ok());
  tls::TlsContextOptions client_options;
  client_options.ca_file = tls::TlsTestDataPath("ca.pem");
  options.session.tls = *tls::TlsContext::Create(client_options);
  EXPECT_FALSE(
      loop.Call([&] { return SmtpListener::Create(loop.loop(), options, &handler).status(); })
          .ok());
  loop.StopAndJoin();
}

// Passes everything through to the connection, keeping a copy of what the session writes.
class RecordingStream : public net::Stream {
 public:
  RecordingStream(std::unique_ptr<net::Stream> inner, std::string* written)
      : inner_(std::move(inner)), written_(written) {}
  void SetCallbacks(net::StreamCallbacks callbacks) override {
    inner_->SetCallbacks(std::move(callbacks));
  }
  absl::Status StartReading() override { return inner_->StartReading(); }
  void StopReading() override { inner_->StopReading(); }
  void Write(std::string bytes) override {
    written_->append(bytes);
    inner_->Write(std::move(bytes));
  }
  void Shutdown(absl::Duration linger) override { inner_->Shutdown(linger); }
  void Close() override { inner_->Close(); }
  bool closed() const override { return inner_->closed(); }
  const std::string& peer_address() const override { return inner_->peer_address(); }
  const std::string& local_address() const override { return inner_->local_address(); }

 private:
  std::unique_ptr<net::Stream> inner_;
  std::string* written_;
};

TEST(SmtpListenerTlsTest, AWrappedStreamCarriesTheSessionAndTls) {
  LoopThread loop;
  RecordingHandler handler;
  SmtpListenerOptions options;
  options.session.tls = ServerTlsContext();
  std::string written;  // loop thread until the listener is closed
  options.wrap_stream = [&written](uv_loop_t*, std::unique_ptr<net::Stream> stream) {
    return std::unique_ptr<net::Stream>(new RecordingStream(std::move(stream), &written));
  };
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo("me"), Contains("250-STARTTLS"));
  ASSERT_TRUE(client->Send("STARTTLS\r\n"));
  EXPECT_EQ(client->ReadFinal(), "220 2.0.0 Ready to start TLS");
  ASSERT_TRUE(client->StartTls().ok());
  EXPECT_THAT(client->Ehlo("me"), Contains("250 ENHANCEDSTATUSCODES"));
  client.reset();
  CloseListener(loop, listener);
  loop.StopAndJoin();
  // The plaintext replies went through the wrapper, and so did the TLS records after them.
  EXPECT_TRUE(absl::StartsWith(written, "220 ")) << written;
  const size_t tls_from = written.find("220 2.0.0 Ready to start TLS\r\n");
  ASSERT_NE(tls_from, std::string::npos);
  const std::string under_tls = written.substr(tls_from + 30);
  EXPECT_FALSE(absl::StrContains(under_tls, "ENHANCEDSTATUSCODES"));  // encrypted
  EXPECT_GT(under_tls.size(), 1000u);  // the server's certificate went through it
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
