// The delivery client against the project's scriptable sink, as in delivery_client_smtp_test.cc:
// STARTTLS under each TLS policy, certificate verification, AUTH and implicit TLS to smarthosts.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/delivery_client_test_fixture.h"
#include "tests/support/delivery_log.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"
#include "tls/testdata/testdata_paths.h"

namespace volley {
namespace {

using test_support::EntriesFor;
using test_support::LogEntry;
using test_support::TypesFor;

TEST_F(ClientTest, OpportunisticStartTls) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.tls_cert_file = tls::TlsTestDataPath("selfsigned.pem");
  sink.tls_key_file = tls::TlsTestDataPath("selfsigned.key");
  Start(sink);
  Inject({{"tls@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"tls@client.test"});
  const LogEntry delivery = EntriesFor(entries, "tls@client.test").back();
  EXPECT_EQ(delivery.type, "Delivery");
  EXPECT_TRUE(delivery.tls_version == "TLSv1.3" || delivery.tls_version == "TLSv1.2")
      << delivery.raw.dump();
  EXPECT_FALSE(delivery.tls_cipher.empty());
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].tls);
  // EHLO, STARTTLS, then EHLO again over TLS.
  std::vector<test_support::SessionTranscript> transcripts = sink_->Transcripts();
  ASSERT_EQ(transcripts.size(), 1u);
  ASSERT_GE(transcripts[0].commands.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(transcripts[0].commands[0], "EHLO "));
  EXPECT_EQ(transcripts[0].commands[1], "STARTTLS");
  EXPECT_TRUE(absl::StartsWith(transcripts[0].commands[2], "EHLO "));
  auto metrics = test_support::HttpGet("127.0.0.1", volleyd_->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(test_support::MetricValue(metrics->body, "volley_tls_handshakes_total{result=\"ok\"}"),
            1);
}

TEST_F(ClientTest, FailedOpportunisticHandshakeFallsBackToPlaintext) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.starttls_breaks = true;
  Start(sink);
  Inject({{"fallback@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"fallback@client.test"});
  const LogEntry delivery = EntriesFor(entries, "fallback@client.test").back();
  EXPECT_EQ(delivery.type, "Delivery");
  EXPECT_TRUE(delivery.tls_version.empty());
  auto metrics = test_support::HttpGet("127.0.0.1", volleyd_->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(
      test_support::MetricValue(metrics->body, "volley_tls_handshakes_total{result=\"failed\"}"),
      1);
  // The first session tried STARTTLS; the second, to the same host, did not.
  std::vector<test_support::SessionTranscript> transcripts = sink_->Transcripts();
  ASSERT_EQ(transcripts.size(), 2u);
  EXPECT_NE(std::find(transcripts[0].commands.begin(), transcripts[0].commands.end(), "STARTTLS"),
            transcripts[0].commands.end());
  EXPECT_EQ(std::find(transcripts[1].commands.begin(), transcripts[1].commands.end(), "STARTTLS"),
            transcripts[1].commands.end());
}

TEST_F(ClientTest, FailedHandshakeUnderRequiredTlsIsTransient) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.starttls_breaks = true;
  Start(sink, "[shaping.default]\ntls = \"required\"\n");
  Inject({{"required@client.test"}});
  std::vector<LogEntry> failures = WaitFor("required@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "TLS handshake failed"))
      << failures[0].content;
  EXPECT_EQ(sink_->messages(), 0u);
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "MAIL"));
}

TEST_F(ClientTest, RequiredTlsWithoutStartTlsOffered) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink, "[shaping.default]\ntls = \"required\"\n");
  Inject({{"notls@client.test"}});
  std::vector<LogEntry> failures = WaitFor("notls@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "STARTTLS is not offered"))
      << failures[0].content;
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "MAIL"));
}

TEST_F(ClientTest, RequiredVerifyChecksTheChainAndTheName) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  // Signed by the test CA for mx.tls.test, *.tls.test, localhost and 127.0.0.1.
  sink.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  sink.tls_key_file = tls::TlsTestDataPath("mx.key");
  Start(sink, absl::StrCat("[shaping.default]\ntls = \"required_verify\"\ntls_ca_file = \"",
                           tls::TlsTestDataPath("ca.pem"), "\"\n"));
  Inject({{"verified@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"verified@client.test"});
  const LogEntry delivery = EntriesFor(entries, "verified@client.test").back();
  EXPECT_EQ(delivery.type, "Delivery");
  EXPECT_FALSE(delivery.tls_version.empty());
}

TEST_F(ClientTest, RequiredVerifyRefusesAnUntrustedCertificate) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.tls_cert_file = tls::TlsTestDataPath("selfsigned.pem");
  sink.tls_key_file = tls::TlsTestDataPath("selfsigned.key");
  Start(sink, absl::StrCat("[shaping.default]\ntls = \"required_verify\"\ntls_ca_file = \"",
                           tls::TlsTestDataPath("ca.pem"), "\"\n"));
  Inject({{"untrusted@client.test"}});
  std::vector<LogEntry> failures = WaitFor("untrusted@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "TLS handshake failed"))
      << failures[0].content;
  EXPECT_EQ(sink_->messages(), 0u);
}

TEST_F(ClientTest, AuthPlainToASmarthostThatRequiresIt) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  sink.tls_key_file = tls::TlsTestDataPath("mx.key");
  sink.auth_users = {{"volley", "s3cret"}};
  sink.auth_required = true;
  Start(sink, "", ", tls = \"required\", auth_user = \"volley\", auth_password = \"s3cret\"");
  Inject({{"authed@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"authed@client.test"});
  EXPECT_EQ(EntriesFor(entries, "authed@client.test").back().type, "Delivery");
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].auth_user, "volley");
  EXPECT_TRUE(got[0].tls);
  EXPECT_TRUE(HasCommandStarting(sink_->Transcripts(), "AUTH PLAIN "));
}

TEST_F(ClientTest, WrongCredentialsAreATransientAuthenticationFailure) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  sink.tls_key_file = tls::TlsTestDataPath("mx.key");
  sink.auth_users = {{"volley", "s3cret"}};
  sink.auth_required = true;
  Start(sink, "", ", tls = \"required\", auth_user = \"volley\", auth_password = \"wrong\"");
  Inject({{"denied@client.test"}});
  std::vector<LogEntry> failures = WaitFor("denied@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].code, 535);
  EXPECT_EQ(failures[0].classification, "AuthenticationFailed");
  EXPECT_EQ(sink_->messages(), 0u);
}

TEST_F(ClientTest, NoCredentialsOverPlaintext) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.auth_users = {{"volley", "s3cret"}};
  sink.auth_requires_tls = false;
  Start(sink, "", ", tls = \"disabled\", auth_user = \"volley\", auth_password = \"s3cret\"");
  Inject({{"plain@client.test"}});
  std::vector<LogEntry> failures = WaitFor("plain@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "without TLS")) << failures[0].content;
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "AUTH"));
}

TEST_F(ClientTest, ImplicitTlsSmarthost) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  sink.tls_key_file = tls::TlsTestDataPath("mx.key");
  sink.implicit_tls = true;
  Start(sink, "", ", tls = \"implicit\"");
  Inject({{"implicit@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"implicit@client.test"});
  const LogEntry delivery = EntriesFor(entries, "implicit@client.test").back();
  EXPECT_EQ(delivery.type, "Delivery");
  EXPECT_FALSE(delivery.tls_version.empty());
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "STARTTLS"));
}

}  // namespace
}  // namespace volley
