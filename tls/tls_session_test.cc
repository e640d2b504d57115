#include "tls/tls_session.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/base/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tls/testdata/testdata_paths.h"
#include "tls/tls_context.h"

namespace volley::tls {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using State = TlsSession::State;

constexpr size_t kWhole = std::string::npos;

std::shared_ptr<TlsContext> ServerContext(absl::string_view name = "mx",
                                          TlsVersion min = TlsVersion::kTls12,
                                          TlsVersion max = TlsVersion::kTls13) {
  TlsContextOptions options;
  options.role = TlsContextOptions::Role::kServer;
  options.cert_file = TlsTestDataPath(std::string(name) + ".pem");
  options.key_file = TlsTestDataPath(std::string(name) + ".key");
  options.min_version = min;
  options.max_version = max;
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  CHECK_OK(context.status());
  return *std::move(context);
}

std::shared_ptr<TlsContext> ClientContext(TlsVersion min = TlsVersion::kTls12,
                                          TlsVersion max = TlsVersion::kTls13) {
  TlsContextOptions options;
  options.ca_file = TlsTestDataPath("ca.pem");
  options.min_version = min;
  options.max_version = max;
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  CHECK_OK(context.status());
  return *std::move(context);
}

// A client and a server session connected in memory: Pump moves each one's encrypted output
// into the other until both are quiet, as the engine's socket code would.
struct Pair {
  std::unique_ptr<TlsSession> client;
  std::unique_ptr<TlsSession> server;
  std::string client_received;
  std::string server_received;
  // The first error each side reported from OnEncryptedInput.
  absl::Status client_status;
  absl::Status server_status;

  // Feeds the encrypted stream `chunk` bytes per OnEncryptedInput call.
  void Pump(size_t chunk = kWhole) {
    for (int round = 0; round < 10000; ++round) {
      std::string to_server = client->TakeEncryptedOutput();
      std::string to_client = server->TakeEncryptedOutput();
      if (to_server.empty() && to_client.empty()) return;
      Feed(*server, to_server, chunk, &server_received, &server_status);
      Feed(*client, to_client, chunk, &client_received, &client_status);
    }
    ADD_FAILURE() << "the sessions never went quiet";
  }

  static void Feed(TlsSession& session, absl::string_view bytes, size_t chunk,
                   std::string* received, absl::Status* first_error) {
    while (!bytes.empty()) {
      const size_t n = std::min(chunk, bytes.size());
      absl::Status status = session.OnEncryptedInput(bytes.substr(0, n), received);
      if (!status.ok()) {
        if (first_error->ok()) *first_error = status;
        return;
      }
      bytes.remove_prefix(n);
    }
  }
};

Pair Connect(std::shared_ptr<TlsContext> client_context, std::shared_ptr<TlsContext> server_context,
             const ClientSessionOptions& options) {
  Pair pair;
  absl::StatusOr<std::unique_ptr<TlsSession>> client =
      TlsSession::CreateClient(std::move(client_context), options);
  CHECK_OK(client.status());
  absl::StatusOr<std::unique_ptr<TlsSession>> server =
      TlsSession::CreateServer(std::move(server_context));
  CHECK_OK(server.status());
  pair.client = *std::move(client);
  pair.server = *std::move(server);
  return pair;
}

ClientSessionOptions Verified(absl::string_view name) {
  ClientSessionOptions options;
  options.server_name = std::string(name);
  options.verify_peer = true;
  return options;
}

// Connects and runs the handshake to its end, whatever the end is.
Pair Handshake(std::shared_ptr<TlsContext> client_context,
               std::shared_ptr<TlsContext> server_context, const ClientSessionOptions& options,
               size_t chunk = kWhole) {
  Pair pair = Connect(std::move(client_context), std::move(server_context), options);
  EXPECT_TRUE(pair.server->StartHandshake().ok());
  EXPECT_TRUE(pair.client->StartHandshake().ok());
  pair.Pump(chunk);
  return pair;
}

// gMock prints Debian's absl::string_view character by character; a string reads better.
std::string Message(const absl::Status& status) { return std::string(status.message()); }

// Deterministic, non-repeating-looking bytes (so a dropped or reordered record shows).
std::string Pattern(size_t size) {
  std::string data(size, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    data[i] = static_cast<char>(x);
  }
  return data;
}

TEST(TlsSessionTest, Tls13Handshake) {
  Pair pair = Handshake(ClientContext(), ServerContext(), Verified("mx.tls.test"));
  ASSERT_TRUE(pair.client_status.ok()) << pair.client_status;
  ASSERT_TRUE(pair.server_status.ok()) << pair.server_status;
  EXPECT_EQ(pair.client->state(), State::kEstablished);
  EXPECT_EQ(pair.server->state(), State::kEstablished);
  EXPECT_TRUE(pair.client->established());
  EXPECT_EQ(pair.client->protocol_version(), "TLSv1.3");
  EXPECT_EQ(pair.server->protocol_version(), "TLSv1.3");
  EXPECT_THAT(pair.client->cipher(),
              AnyOf("TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"));
  EXPECT_EQ(pair.server->cipher(), pair.client->cipher());
  EXPECT_FALSE(pair.client->resumed());
  EXPECT_FALSE(pair.client->HasEncryptedOutput());
  EXPECT_FALSE(pair.server->HasEncryptedOutput());
}

TEST(TlsSessionTest, Tls12HandshakeForcedByTheClient) {
  Pair pair = Handshake(ClientContext(TlsVersion::kTls12, TlsVersion::kTls12), ServerContext(),
                        Verified("mx.tls.test"));
  ASSERT_TRUE(pair.client_status.ok()) << pair.client_status;
  ASSERT_EQ(pair.client->state(), State::kEstablished);
  ASSERT_EQ(pair.server->state(), State::kEstablished);
  EXPECT_EQ(pair.client->protocol_version(), "TLSv1.2");
  EXPECT_EQ(pair.server->protocol_version(), "TLSv1.2");
  EXPECT_THAT(pair.client->cipher(), StartsWith("TLS_ECDHE_ECDSA_WITH_"));
}

TEST(TlsSessionTest, Tls12HandshakeForcedByTheServerWithRsa) {
  Pair pair =
      Handshake(ClientContext(), ServerContext("rsa", TlsVersion::kTls12, TlsVersion::kTls12),
                Verified("mx.tls.test"));
  ASSERT_TRUE(pair.client_status.ok()) << pair.client_status;
  ASSERT_EQ(pair.client->state(), State::kEstablished);
  EXPECT_EQ(pair.client->protocol_version(), "TLSv1.2");
  EXPECT_THAT(pair.client->cipher(), StartsWith("TLS_ECDHE_RSA_WITH_"));
}

TEST(TlsSessionTest, NoCommonVersionFailsBothSides) {
  Pair pair = Handshake(ClientContext(TlsVersion::kTls12, TlsVersion::kTls12),
                        ServerContext("mx", TlsVersion::kTls13, TlsVersion::kTls13),
                        ClientSessionOptions{});
  EXPECT_EQ(pair.server->state(), State::kFailed);
  EXPECT_EQ(pair.client->state(), State::kFailed);
  EXPECT_THAT(Message(pair.server_status), HasSubstr("UNSUPPORTED_PROTOCOL"));
  // The server's alert told the client why.
  EXPECT_THAT(Message(pair.client_status), HasSubstr("ALERT"));
}

TEST(TlsSessionTest, DataBothWays) {
  for (TlsVersion version : {TlsVersion::kTls12, TlsVersion::kTls13}) {
    Pair pair = Handshake(ClientContext(version, version), ServerContext(), {});
    ASSERT_TRUE(pair.client->established());
    ASSERT_TRUE(pair.client->WritePlaintext("EHLO client.test\r\n").ok());
    ASSERT_TRUE(pair.server->WritePlaintext("250 mx.tls.test\r\n").ok());
    EXPECT_TRUE(pair.client->HasEncryptedOutput());
    pair.Pump();
    EXPECT_EQ(pair.server_received, "EHLO client.test\r\n");
    EXPECT_EQ(pair.client_received, "250 mx.tls.test\r\n");
    ASSERT_TRUE(pair.server_status.ok()) << pair.server_status;
    ASSERT_TRUE(pair.client_status.ok()) << pair.client_status;
  }
}

// 5 MiB in one call is far beyond the 64 KiB BIO buffers on both sides: the writer must drain
// its network BIO while encrypting, and the reader must take input larger than its BIO.
TEST(TlsSessionTest, FiveMebibytesInOneWriteEachWay) {
  for (TlsVersion version : {TlsVersion::kTls12, TlsVersion::kTls13}) {
    Pair pair = Handshake(ClientContext(version, version), ServerContext(), {});
    ASSERT_TRUE(pair.client->established());
    const std::string up = Pattern(5 << 20);
    const std::string down = Pattern((5 << 20) + 12345).substr(7);
    ASSERT_TRUE(pair.client->WritePlaintext(up).ok());
    ASSERT_TRUE(pair.server->WritePlaintext(down).ok());
    std::string encrypted = pair.client->TakeEncryptedOutput();
    EXPECT_GT(encrypted.size(), up.size());  // everything, with record overhead, in one take
    ASSERT_TRUE(pair.server->OnEncryptedInput(encrypted, &pair.server_received).ok());
    pair.Pump();
    ASSERT_TRUE(pair.server_status.ok()) << pair.server_status;
    ASSERT_TRUE(pair.client_status.ok()) << pair.client_status;
    EXPECT_TRUE(pair.server_received == up) << "received " << pair.server_received.size();
    EXPECT_TRUE(pair.client_received == down) << "received " << pair.client_received.size();
  }
}

TEST(TlsSessionTest, ByteByByteHandshakeAndData) {
  for (TlsVersion version : {TlsVersion::kTls12, TlsVersion::kTls13}) {
    Pair pair =
        Handshake(ClientContext(version, version), ServerContext(), Verified("mx.tls.test"), 1);
    ASSERT_TRUE(pair.client_status.ok()) << pair.client_status;
    ASSERT_TRUE(pair.server_status.ok()) << pair.server_status;
    ASSERT_TRUE(pair.client->established());
    ASSERT_TRUE(pair.server->established());
    // More than one record each way.
    const std::string up = Pattern(40000);
    const std::string down = Pattern(20000);
    ASSERT_TRUE(pair.client->WritePlaintext(up).ok());
    ASSERT_TRUE(pair.server->WritePlaintext(down).ok());
    pair.Pump(1);
    EXPECT_TRUE(pair.server_received == up);
    EXPECT_TRUE(pair.client_received == down);
  }
}

TEST(TlsSessionTest, WritesBeforeTheHandshakeAreDeliveredAfterIt) {
  Pair pair = Connect(ClientContext(), ServerContext(), {});
  // An SMTP server greets first; a client may queue its command early.
  ASSERT_TRUE(pair.server->WritePlaintext("220 ready\r\n").ok());
  ASSERT_TRUE(pair.client->WritePlaintext("EHLO a\r\n").ok());
  ASSERT_TRUE(pair.client->WritePlaintext("NOOP\r\n").ok());
  EXPECT_FALSE(pair.server->HasEncryptedOutput());  // nothing to send before the ClientHello
  ASSERT_TRUE(pair.client->StartHandshake().ok());
  EXPECT_TRUE(pair.client->HasEncryptedOutput());  // the ClientHello
  pair.Pump();
  ASSERT_TRUE(pair.client->established());
  EXPECT_EQ(pair.client_received, "220 ready\r\n");
  EXPECT_EQ(pair.server_received, "EHLO a\r\nNOOP\r\n");
}

TEST(TlsSessionTest, VerifyPeerAcceptsEveryNameOfTheCertificate) {
  for (const char* name : {"mx.tls.test", "MX.TLS.TEST", "mx.tls.test.", "anything.tls.test",
                           "localhost", "127.0.0.1", "::1"}) {
    SCOPED_TRACE(name);
    Pair pair = Handshake(ClientContext(), ServerContext(), Verified(name));
    EXPECT_TRUE(pair.client_status.ok()) << pair.client_status;
    EXPECT_EQ(pair.client->state(), State::kEstablished);
    EXPECT_EQ(pair.server->state(), State::kEstablished);
  }
}

TEST(TlsSessionTest, VerifyPeerRejectsAWrongName) {
  for (const char* name : {"mx.tls.test", "a.b.tls.test", "tls.test", "127.0.0.2", "::2"}) {
    SCOPED_TRACE(name);
    // mx.tls.test against other.pem; the others against mx.pem, which does not cover them.
    Pair pair = Handshake(ClientContext(),
                          ServerContext(absl::string_view(name) == "mx.tls.test" ? "other" : "mx"),
                          Verified(name));
    EXPECT_EQ(pair.client->state(), State::kFailed);
    EXPECT_EQ(pair.client_status.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(Message(pair.client_status), HasSubstr("mismatch"));
    EXPECT_THAT(Message(pair.client_status), HasSubstr("CERTIFICATE_VERIFY_FAILED"));
    // The client's alert ends the server's side too.
    EXPECT_EQ(pair.server->state(), State::kFailed);
    EXPECT_FALSE(pair.server_status.ok());
  }
}

TEST(TlsSessionTest, VerifyPeerRejectsAnUntrustedSelfSignedCertificate) {
  Pair pair = Handshake(ClientContext(), ServerContext("selfsigned"), Verified("sink.localdomain"));
  EXPECT_EQ(pair.client->state(), State::kFailed);
  EXPECT_EQ(pair.client_status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Message(pair.client_status), HasSubstr("self signed certificate"));
  // Later calls report the same failure.
  std::string plaintext;
  EXPECT_EQ(pair.client->OnEncryptedInput("x", &plaintext), pair.client_status);
  EXPECT_EQ(pair.client->WritePlaintext("x"), pair.client_status);
  EXPECT_EQ(pair.client->protocol_version(), "");
}

// Opportunistic TLS (RFC 7435): without verify_peer any certificate will do.
TEST(TlsSessionTest, WithoutVerifyPeerAnyCertificateIsAccepted) {
  ClientSessionOptions options;
  options.server_name = "mx.example.com";
  Pair pair = Handshake(ClientContext(), ServerContext("selfsigned"), options);
  EXPECT_TRUE(pair.client_status.ok()) << pair.client_status;
  EXPECT_EQ(pair.client->state(), State::kEstablished);
}

TEST(TlsSessionTest, VerifyPeerNeedsAName) {
  ClientSessionOptions options;
  options.verify_peer = true;
  absl::StatusOr<std::unique_ptr<TlsSession>> session =
      TlsSession::CreateClient(ClientContext(), options);
  EXPECT_EQ(session.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlsSessionTest, SessionsNeedAContextOfTheirRole) {
  EXPECT_EQ(TlsSession::CreateClient(ServerContext(), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TlsSession::CreateServer(ClientContext()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TlsSession::CreateServer(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

// Records the SNI the server saw through BoringSSL's servername callback.
int RecordServerName(SSL* ssl, int* /*alert*/, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  *static_cast<std::string*>(arg) = name != nullptr ? name : "(none)";
  return SSL_TLSEXT_ERR_OK;
}

TEST(TlsSessionTest, ServerSeesSniExceptForIpLiterals) {
  struct Case {
    const char* server_name;
    const char* sni;
  };
  for (const Case& c : {Case{"mx.tls.test", "mx.tls.test"}, Case{"mx.tls.test.", "mx.tls.test"},
                        Case{"127.0.0.1", "(none)"}, Case{"::1", "(none)"}, Case{"", "(none)"}}) {
    SCOPED_TRACE(c.server_name);
    std::shared_ptr<TlsContext> server_context = ServerContext();
    std::string seen = "(callback not called)";
    // Configured before any session uses the context, as the engine would.
    SSL_CTX_set_tlsext_servername_callback(server_context->get(), &RecordServerName);
    SSL_CTX_set_tlsext_servername_arg(server_context->get(), &seen);
    ClientSessionOptions options;
    options.server_name = c.server_name;
    Pair pair = Handshake(ClientContext(), server_context, options);
    ASSERT_TRUE(pair.server->established());
    EXPECT_EQ(seen, c.sni);
  }
}

TEST(TlsSessionTest, GarbageFailsTheSession) {
  Pair pair = Connect(ClientContext(), ServerContext(), {});
  std::string plaintext;
  absl::Status status = pair.server->OnEncryptedInput("GET / HTTP/1.1\r\n\r\n", &plaintext);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(status), HasSubstr("TLS handshake failed"));
  EXPECT_THAT(Message(status), HasSubstr("error:"));  // BoringSSL's reason
  EXPECT_EQ(pair.server->state(), State::kFailed);
  EXPECT_EQ(pair.server->WritePlaintext("x"), status);
}

TEST(TlsSessionTest, GarbageAfterTheHandshakeFailsTheSession) {
  Pair pair = Handshake(ClientContext(), ServerContext(), {});
  ASSERT_TRUE(pair.client->established());
  // A well-formed application-data record header with a payload that does not decrypt.
  std::string record("\x17\x03\x03\x00\x20", 5);
  record.append(32, 'x');
  std::string plaintext;
  absl::Status status = pair.client->OnEncryptedInput(record, &plaintext);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(status), HasSubstr("TLS read failed"));
  EXPECT_EQ(pair.client->state(), State::kFailed);
  EXPECT_TRUE(plaintext.empty());
  // It tells the peer (a bad_record_mac alert).
  EXPECT_TRUE(pair.client->HasEncryptedOutput());
}

TEST(TlsSessionTest, CloseNotifyClosesThePeer) {
  Pair pair = Handshake(ClientContext(), ServerContext(), {});
  ASSERT_TRUE(pair.client->established());
  ASSERT_TRUE(pair.client->WritePlaintext("QUIT\r\n").ok());
  pair.client->Shutdown();
  EXPECT_EQ(pair.client->state(), State::kClosed);
  EXPECT_EQ(pair.client->WritePlaintext("more").code(), absl::StatusCode::kFailedPrecondition);
  pair.Pump();
  ASSERT_TRUE(pair.server_status.ok()) << pair.server_status;
  EXPECT_EQ(pair.server_received, "QUIT\r\n");  // data before the close_notify still arrives
  EXPECT_EQ(pair.server->state(), State::kClosed);
  EXPECT_EQ(pair.server->WritePlaintext("221 bye").code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TlsSessionTest, NoSessionBeforeTheHandshake) {
  Pair pair = Connect(ClientContext(), ServerContext(), {});
  EXPECT_EQ(pair.client->GetSessionForResumption(), nullptr);
  EXPECT_EQ(pair.client->protocol_version(), "");
  EXPECT_EQ(pair.client->cipher(), "");
  EXPECT_FALSE(pair.client->resumed());
}

class ResumptionTest : public ::testing::TestWithParam<TlsVersion> {};

TEST_P(ResumptionTest, SecondConnectionResumes) {
  std::shared_ptr<TlsContext> client_context = ClientContext(GetParam(), GetParam());
  std::shared_ptr<TlsContext> server_context = ServerContext();

  // As in SMTP the server speaks first: in TLS 1.3 its greeting comes in the same flight as
  // the session tickets, and the client must still keep them.
  Pair first = Connect(client_context, server_context, Verified("mx.tls.test"));
  ASSERT_TRUE(first.server->WritePlaintext("220 ready\r\n").ok());
  ASSERT_TRUE(first.client->StartHandshake().ok());
  first.Pump();
  ASSERT_TRUE(first.client->established()) << first.client_status;
  EXPECT_EQ(first.client_received, "220 ready\r\n");
  EXPECT_FALSE(first.client->resumed());
  bssl::UniquePtr<SSL_SESSION> session = first.client->GetSessionForResumption();
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(SSL_SESSION_is_resumable(session.get()));

  ClientSessionOptions options = Verified("mx.tls.test");
  options.resume = session.get();
  Pair second = Handshake(client_context, server_context, options);
  ASSERT_TRUE(second.client->established()) << second.client_status;
  EXPECT_TRUE(second.client->resumed());
  EXPECT_TRUE(second.server->resumed());
  EXPECT_EQ(second.client->protocol_version(), first.client->protocol_version());
  ASSERT_TRUE(second.client->WritePlaintext("EHLO a\r\n").ok());
  second.Pump();
  EXPECT_EQ(second.server_received, "EHLO a\r\n");
  ASSERT_TRUE(second.server->WritePlaintext("250 ok\r\n").ok());
  second.Pump();
  EXPECT_EQ(second.client_received, "250 ok\r\n");
  // The resumed connection yields a session for the next one in turn (in TLS 1.3 a new
  // ticket, which BoringSSL sends with the server's first write).
  EXPECT_NE(second.client->GetSessionForResumption(), nullptr);
}

// A session from another server (whose ticket keys differ) is not an error: the handshake is
// simply a full one.
TEST_P(ResumptionTest, SessionFromAnotherServerFallsBackToAFullHandshake) {
  std::shared_ptr<TlsContext> client_context = ClientContext(GetParam(), GetParam());
  Pair first = Handshake(client_context, ServerContext(), {});
  ASSERT_TRUE(first.client->established());
  ASSERT_TRUE(first.server->WritePlaintext("220 ready\r\n").ok());
  first.Pump();
  bssl::UniquePtr<SSL_SESSION> session = first.client->GetSessionForResumption();
  ASSERT_NE(session, nullptr);

  ClientSessionOptions options;
  options.resume = session.get();
  Pair second = Handshake(client_context, ServerContext(), options);
  ASSERT_TRUE(second.client->established()) << second.client_status;
  EXPECT_FALSE(second.client->resumed());
}

INSTANTIATE_TEST_SUITE_P(Versions, ResumptionTest,
                         ::testing::Values(TlsVersion::kTls12, TlsVersion::kTls13),
                         [](const ::testing::TestParamInfo<TlsVersion>& info) {
                           return info.param == TlsVersion::kTls12 ? "Tls12" : "Tls13";
                         });

}  // namespace
}  // namespace volley::tls
