// SmtpListener over real sockets on loopback: STARTTLS, implicit TLS, and wrapped streams.
#include <uv.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/base/logging.h"
#include "engine/inject/smtp_listener.h"
#include "engine/inject/smtp_listener_test_fixture.h"
#include "engine/net/stream.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"
#include "tls/testdata/testdata_paths.h"
#include "tls/tls_context.h"

namespace volley::inject {
namespace {

using test_support::RawSmtpClient;

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

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

}  // namespace
}  // namespace volley::inject
