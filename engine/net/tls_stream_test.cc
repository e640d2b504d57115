#include "engine/net/tls_stream.h"

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/net/tcp_listener.h"
#include "engine/net/tcp_stream.h"
#include "gtest/gtest.h"
#include "tls/testdata/testdata_paths.h"

namespace volley::net {
namespace {

std::shared_ptr<tls::TlsContext> ServerContext() {
  tls::TlsContextOptions options;
  options.role = tls::TlsContextOptions::Role::kServer;
  options.cert_file = tls::TlsTestDataPath("mx.pem");
  options.key_file = tls::TlsTestDataPath("mx.key");
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(options);
  CHECK_OK(context.status());
  return *context;
}

std::shared_ptr<tls::TlsContext> ClientContext() {
  tls::TlsContextOptions options;
  options.ca_file = tls::TlsTestDataPath("ca.pem");
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(options);
  CHECK_OK(context.status());
  return *context;
}

// Both ends on one loop: a server that upgrades to TLS after the client's "STARTTLS\r\n" (and
// drops what came with it in the clear), and a client that upgrades after the server's "220".
class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    absl::StatusOr<std::unique_ptr<TcpListener>> listener = TcpListener::Listen(
        &loop_, ListenOptions{},
        [this](std::unique_ptr<TcpStream> stream) { OnAccept(std::move(stream)); });
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
  }

  void TearDown() override {
    listener_.reset();
    server_.reset();
    client_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop_), 0);
  }

  template <typename Pred>
  void RunUntil(Pred done) {
    while (!done() && uv_run(&loop_, UV_RUN_ONCE) != 0) {
    }
  }

  void OnAccept(std::unique_ptr<TcpStream> stream) {
    server_ = std::move(stream);
    server_->SetCallbacks({.on_data = [this](absl::string_view bytes) {
      absl::StrAppend(&server_clear_, bytes);
      if (!absl::StartsWith(server_clear_, "STARTTLS\r\n")) return;
      server_->Write("220 go ahead\r\n");
      absl::StatusOr<std::unique_ptr<TlsStream>> tls =
          TlsStream::Server(std::move(server_), ServerContext());
      ASSERT_TRUE(tls.ok()) << tls.status();
      (*tls)->SetCallbacks(
          {.on_data = [this](absl::string_view b) { absl::StrAppend(&server_tls_, b); },
           .on_end = [this](const absl::Status& s) { server_end_ = s; }});
      (*tls)->set_on_established([this] { server_established_ = true; });
      server_ = *std::move(tls);
    }});
    ASSERT_TRUE(server_->StartReading().ok());
  }

  void ConnectClient() {
    absl::StatusOr<std::unique_ptr<TcpStream>> stream = TcpStream::Connect(
        &loop_, "127.0.0.1", listener_->port(), "",
        [this](const absl::Status& status) { ASSERT_TRUE(status.ok()) << status; });
    ASSERT_TRUE(stream.ok());
    client_ = *std::move(stream);
    client_->SetCallbacks(
        {.on_data = [this](absl::string_view b) { absl::StrAppend(&client_clear_, b); }});
    RunUntil([this] { return !client_->peer_address().empty(); });
    ASSERT_TRUE(client_->StartReading().ok());
  }

  uv_loop_t loop_;
  std::unique_ptr<TcpListener> listener_;
  std::unique_ptr<Stream> server_;
  std::unique_ptr<Stream> client_;
  std::string server_clear_, server_tls_, client_clear_, client_tls_;
  bool server_established_ = false;
  absl::Status server_end_ = absl::UnknownError("not yet");
};

TEST_F(TlsStreamTest, StartTlsUpgradesBothEndsAndOnlyPlaintextReachesTheProtocol) {
  ConnectClient();
  // A command smuggled after STARTTLS in the clear must never reach the TLS side.
  client_->Write("STARTTLS\r\nMAIL FROM:<smuggled@x>\r\n");
  RunUntil([this] { return absl::StrContains(client_clear_, "220 go ahead\r\n"); });
  tls::ClientSessionOptions options;
  options.server_name = "localhost";
  options.verify_peer = true;
  absl::StatusOr<std::unique_ptr<TlsStream>> tls =
      TlsStream::Client(std::move(client_), ClientContext(), options);
  ASSERT_TRUE(tls.ok()) << tls.status();
  bool client_established = false;
  TlsStream* client_tls = tls->get();
  (*tls)->set_on_established([&] { client_established = true; });
  (*tls)->SetCallbacks(
      {.on_data = [this](absl::string_view b) { absl::StrAppend(&client_tls_, b); }});
  client_ = *std::move(tls);
  client_->Write("EHLO over tls\r\n");
  RunUntil([this] { return server_tls_ == "EHLO over tls\r\n"; });
  EXPECT_TRUE(client_established);
  EXPECT_TRUE(server_established_);
  EXPECT_EQ(server_tls_, "EHLO over tls\r\n");
  EXPECT_TRUE(absl::StartsWith(client_tls->session().protocol_version(), "TLSv1."));
  server_->Write("250 ok\r\n");
  RunUntil([this] { return client_tls_ == "250 ok\r\n"; });
  // A polite end: close_notify, which the server reports as an end with OK.
  client_->Shutdown(absl::Seconds(2));
  RunUntil([this] { return server_end_.code() != absl::StatusCode::kUnknown; });
  EXPECT_TRUE(server_end_.ok()) << server_end_;
}

TEST_F(TlsStreamTest, AHandshakeWithSomethingThatIsNotTlsEndsTheStream) {
  ConnectClient();
  client_->Write("STARTTLS\r\n");
  RunUntil([this] { return absl::StrContains(client_clear_, "220 go ahead\r\n"); });
  // Instead of a ClientHello: text.
  client_->Write("this is not a TLS record\r\n");
  RunUntil([this] { return server_end_.code() != absl::StatusCode::kUnknown; });
  EXPECT_FALSE(server_end_.ok());
  EXPECT_FALSE(server_established_);
  EXPECT_TRUE(server_tls_.empty());
}

TEST_F(TlsStreamTest, AClientThatDoesNotTrustTheCertificateFailsTheHandshake) {
  ConnectClient();
  client_->Write("STARTTLS\r\n");
  RunUntil([this] { return absl::StrContains(client_clear_, "220 go ahead\r\n"); });
  tls::ClientSessionOptions options;
  options.server_name = "not-the-name.example";
  options.verify_peer = true;
  absl::StatusOr<std::unique_ptr<TlsStream>> tls =
      TlsStream::Client(std::move(client_), ClientContext(), options);
  ASSERT_TRUE(tls.ok()) << tls.status();
  absl::Status client_end = absl::UnknownError("not yet");
  (*tls)->SetCallbacks({.on_end = [&](const absl::Status& s) { client_end = s; }});
  client_ = *std::move(tls);
  RunUntil([&] { return client_end.code() != absl::StatusCode::kUnknown; });
  EXPECT_FALSE(client_end.ok());
  EXPECT_FALSE(server_established_);
}

}  // namespace
}  // namespace volley::net
