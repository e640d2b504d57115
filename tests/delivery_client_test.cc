// The delivery client against the project's scriptable sink: each test asks the sink for one
// behaviour (by option or by recipient local part), injects through volleyd, and checks both
// the SMTP conversation the sink saw and the delivery-log records volleyd wrote.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/unbound_server.h"
#include "tests/support/volleyd_process.h"
#include "tls/testdata/testdata_paths.h"

namespace volley {
namespace {

using test_support::EntriesFor;
using test_support::LogEntry;
using test_support::TestTempDir;
using test_support::TypesFor;
using test_support::VolleydProcess;
using test_support::WaitForFinalRecords;

// A sink, a volleyd routing "client.test" to it, and helpers.
class ClientTest : public ::testing::Test {
 protected:
  // `extra` is appended to the config (e.g. "[shaping.default]\ntls = \"required\"\n").
  // `route_extra` goes inside the route's inline table (e.g. ", tls = \"implicit\"").
  void Start(test_support::SinkOptions sink_options, const std::string& extra = "",
             const std::string& route_extra = "") {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = absl::StrCat(TestTempDir(), "/", info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sink_options.record = true;
    auto sink = test_support::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
    log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
    const std::string config_path = absl::StrCat(dir_, "/volley.toml");
    std::ofstream config(config_path);
    config << "[server]\nthreads = 1\nspool = \"" << dir_ << "/spool\"\nlog = \"" << log_path_
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"127.0.0.1:9\"]\n"
           << "[delivery]\nretry_initial = \"1h\"\n"
           << "[routes]\n\"client.test\" = { host = \"" << sink_options.addresses[0] << ":"
           << sink_->port() << "\"" << route_extra << " }\n"
           << extra;
    config.close();
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = std::move(*volleyd);
  }

  // Injects one message per recipient list; returns once volleyd has answered them all.
  void Inject(const std::vector<std::vector<std::string>>& messages,
              const std::string& content = "Subject: test\r\n\r\nbody\r\n") {
    bench::InjectorOptions injector;
    injector.port = volleyd_->smtp_port();
    injector.connections = 1;
    auto result = bench::InjectAll(
        injector,
        [&](size_t i) {
          bench::InjectMessage m;
          m.mail_from = "sender@volley.test";
          m.recipients = messages[i];
          m.content = content;
          return m;
        },
        messages.size());
    ASSERT_TRUE(result.ok()) << result.status();
    for (const smtp::Reply& reply : result->replies) ASSERT_EQ(reply.code, 250) << reply.Text();
  }

  std::vector<LogEntry> WaitFinal(const std::vector<std::string>& recipients,
                                  absl::Duration timeout = absl::Seconds(20)) {
    auto entries = WaitForFinalRecords(log_path_, recipients, timeout);
    EXPECT_TRUE(entries.ok()) << entries.status() << "\n" << volleyd_->output();
    return entries.ok() ? *entries : std::vector<LogEntry>{};
  }

  // Records of `type` for a recipient, waiting up to `timeout` for at least one.
  std::vector<LogEntry> WaitFor(const std::string& recipient, const std::string& type,
                                absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      std::vector<LogEntry> found;
      for (const LogEntry& e : test_support::ReadDeliveryLog(log_path_)) {
        if (e.recipient == recipient && e.type == type) found.push_back(e);
      }
      if (!found.empty() || absl::Now() >= deadline) return found;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  std::string dir_;
  std::string log_path_;
  std::unique_ptr<test_support::SmtpSink> sink_;
  std::unique_ptr<VolleydProcess> volleyd_;
};

TEST_F(ClientTest, EgressSourcesAreUsedInTurnAndLogged) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink,
        "[egress.pool]\nsources = [{ address = \"127.0.0.2\", ehlo = \"a.egress.test\", "
        "name = \"a\" }, { address = \"127.0.0.3\", ehlo = \"b.egress.test\", name = \"b\" }]\n"
        "[shaping.default]\negress_pool = \"pool\"\nmax_deliveries_per_connection = 1\n"
        "connection_limit = 1\n");
  std::vector<std::vector<std::string>> messages;
  std::vector<std::string> recipients;
  for (int i = 0; i < 6; ++i) {
    recipients.push_back(absl::StrCat("e", i, "@client.test"));
    messages.push_back({recipients.back()});
  }
  Inject(messages);
  std::vector<LogEntry> entries = WaitFinal(recipients);
  std::map<std::string, int> by_source;
  for (const LogEntry& e : entries) {
    if (e.type != "Delivery") continue;
    EXPECT_EQ(e.egress_pool, "pool");
    ++by_source[e.egress_source];
  }
  // One message per connection, sources in turn: three each.
  EXPECT_EQ(by_source["a"], 3);
  EXPECT_EQ(by_source["b"], 3);
  std::map<std::string, int> by_peer;
  for (const test_support::ReceivedMessage& m : sink_->TakeMessages()) ++by_peer[m.peer_address];
  EXPECT_EQ(by_peer["127.0.0.2"], 3);
  EXPECT_EQ(by_peer["127.0.0.3"], 3);
}

TEST_F(ClientTest, ASlowServerTimesOutAsATransientFailure) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.reply_delay = absl::Milliseconds(1500);
  Start(sink, "[shaping.default]\nbanner_timeout = \"500ms\"\n");
  Inject({{"slow@client.test"}});
  std::vector<LogEntry> failures = WaitFor("slow@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].code, 451);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "timed out waiting for the greeting"))
      << failures[0].content;
  EXPECT_EQ(sink_->messages(), 0u);
}

bool HasCommandStarting(const std::vector<test_support::SessionTranscript>& transcripts,
                        absl::string_view prefix) {
  for (const test_support::SessionTranscript& t : transcripts) {
    for (const std::string& c : t.commands) {
      if (absl::StartsWith(c, prefix)) return true;
    }
  }
  return false;
}

TEST_F(ClientTest, TooManyRecipientsGoInTheNextTransaction) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.max_recipients = 2;
  Start(sink);
  std::vector<std::string> rcpts;
  for (int i = 0; i < 5; ++i) rcpts.push_back(absl::StrCat("r", i, "@client.test"));
  Inject({rcpts});
  std::vector<LogEntry> entries = WaitFinal(rcpts);
  for (const std::string& r : rcpts) {
    EXPECT_EQ(TypesFor(entries, r), (std::vector<std::string>{"Reception", "Delivery"})) << r;
  }
  std::vector<std::vector<std::string>> transactions;
  for (const test_support::ReceivedMessage& m : sink_->TakeMessages()) {
    transactions.push_back(m.recipients);
  }
  EXPECT_EQ(transactions,
            (std::vector<std::vector<std::string>>{{"r0@client.test", "r1@client.test"},
                                                   {"r2@client.test", "r3@client.test"},
                                                   {"r4@client.test"}}));
}

TEST_F(ClientTest, GreetingRefusedByEveryHostBounces) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.greeting = smtp::MakeReply(554, "5.7.1", "no service for you");
  Start(sink);
  Inject({{"refused@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"refused@client.test"});
  const std::vector<LogEntry> mine = EntriesFor(entries, "refused@client.test");
  ASSERT_EQ(mine.back().type, "Bounce");
  EXPECT_EQ(mine.back().code, 554);
  EXPECT_EQ(sink_->messages(), 0u);
}

TEST_F(ClientTest, ConnectionDroppedInTheMiddleOfDataIsTransient) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink);
  Inject({{"dropdata-1@client.test"}},
         absl::StrCat("Subject: big\r\n\r\n", std::string(100000, 'x'), "\r\n"));
  std::vector<LogEntry> failures = WaitFor("dropdata-1@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].code, 451);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "connection closed by the server"))
      << failures[0].content;
  EXPECT_EQ(sink_->messages(), 0u);
}

TEST_F(ClientTest, EightBitMessageIsConvertedForAServerWithout8BitMime) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.eightbitmime = false;
  sink.chunking = false;
  Start(sink);
  const std::string content = "Subject: 8bit\r\n\r\ncaf\xc3\xa9 na\xc3\xafve\r\n";
  Inject({{"eight@client.test"}}, content);
  WaitFinal({"eight@client.test"});
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(absl::StrContains(got[0].content, "Content-Transfer-Encoding: quoted-printable"))
      << got[0].content;
  EXPECT_TRUE(absl::StrContains(got[0].content, "caf=C3=A9 na=C3=AFve")) << got[0].content;
  for (char c : got[0].content) ASSERT_LT(static_cast<unsigned char>(c), 0x80);
  for (const auto& [key, value] : got[0].mail_params) EXPECT_NE(key, "BODY");

  // A message that cannot be made 7-bit (8-bit in a header) bounces with 5.6.3 unsent.
  Inject({{"header8@client.test"}}, "Subject: caf\xc3\xa9\r\n\r\nbody\r\n");
  std::vector<LogEntry> entries = WaitFinal({"header8@client.test"});
  const LogEntry bounce = EntriesFor(entries, "header8@client.test").back();
  EXPECT_EQ(bounce.type, "Bounce");
  EXPECT_EQ(bounce.enhanced, "5.6.3");
  EXPECT_TRUE(sink_->TakeMessages().empty());
}

TEST_F(ClientTest, MessageOverTheAdvertisedSizeBouncesUnsent) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.max_message_size = 1000;
  Start(sink);
  Inject({{"big@client.test"}},
         absl::StrCat("Subject: big\r\n\r\n", std::string(5000, 'b'), "\r\n"));
  std::vector<LogEntry> entries = WaitFinal({"big@client.test"});
  const LogEntry bounce = EntriesFor(entries, "big@client.test").back();
  EXPECT_EQ(bounce.type, "Bounce");
  EXPECT_EQ(bounce.code, 552);
  EXPECT_EQ(bounce.enhanced, "5.3.4");
  EXPECT_EQ(bounce.classification, "QuotaIssues");
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "MAIL"));
}

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

TEST_F(ClientTest, ChunkingCarriesTheMessageByteForByte) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink);
  const std::string content = "Subject: bdat\r\n\r\n.leading dot\r\n..two\r\nlast\r\n";
  Inject({{"bdat@client.test"}}, content);
  WaitFinal({"bdat@client.test"});
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].bdat);
  EXPECT_TRUE(absl::EndsWith(got[0].content, content)) << got[0].content;
  EXPECT_TRUE(HasCommandStarting(sink_->Transcripts(), "BDAT "));
}

TEST_F(ClientTest, LockStepWithoutPipelining) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.pipelining = false;
  sink.chunking = false;
  Start(sink);
  Inject({{"a@client.test", "reject-b@client.test", "c@client.test"}});
  std::vector<LogEntry> entries =
      WaitFinal({"a@client.test", "reject-b@client.test", "c@client.test"});
  EXPECT_EQ(EntriesFor(entries, "a@client.test").back().type, "Delivery");
  EXPECT_EQ(EntriesFor(entries, "reject-b@client.test").back().type, "Bounce");
  EXPECT_EQ(EntriesFor(entries, "c@client.test").back().type, "Delivery");
  std::vector<test_support::SessionTranscript> transcripts = sink_->Transcripts();
  ASSERT_EQ(transcripts.size(), 1u);
  std::vector<std::string> expected = {
      "MAIL FROM:<sender@volley.test> SIZE=", "RCPT TO:<a@client.test>",
      "RCPT TO:<reject-b@client.test>", "RCPT TO:<c@client.test>", "DATA"};
  ASSERT_GE(transcripts[0].commands.size(), 6u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(transcripts[0].commands[i + 1], expected[i]))
        << transcripts[0].commands[i + 1];
  }
}

TEST_F(ClientTest, DsnAndSmtpUtf8ParametersArePassedOn) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink);
  std::unique_ptr<test_support::RawSmtpClient> c =
      test_support::RawSmtpClient::Connect("127.0.0.1", volleyd_->smtp_port());
  ASSERT_NE(c, nullptr);
  c->ReadFinal();
  c->Command("EHLO platform.test");
  ASSERT_TRUE(absl::StartsWith(
      c->Command("MAIL FROM:<s\xc3\xa9nder@volley.test> SMTPUTF8 RET=HDRS ENVID=QQ314159"), "250"));
  ASSERT_TRUE(
      absl::StartsWith(c->Command("RCPT TO:<j\xc3\xb8rn@client.test> NOTIFY=SUCCESS,FAILURE "
                                  "ORCPT=rfc822;j+C3+B8rn@client.test"),
                       "250"));
  ASSERT_TRUE(absl::StartsWith(c->Command("DATA"), "354"));
  ASSERT_TRUE(absl::StartsWith(c->Command("Subject: dsn\r\n\r\nbody\r\n."), "250"));
  WaitFinal({"j\xc3\xb8rn@client.test"});
  std::vector<test_support::ReceivedMessage> got = sink_->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].smtputf8_requested);
  std::map<std::string, std::string> mail(got[0].mail_params.begin(), got[0].mail_params.end());
  EXPECT_EQ(mail["RET"], "HDRS");
  EXPECT_EQ(mail["ENVID"], "QQ314159");
  ASSERT_EQ(got[0].recipient_params.size(), 1u);
  std::map<std::string, std::string> rcpt(got[0].recipient_params[0].begin(),
                                          got[0].recipient_params[0].end());
  EXPECT_EQ(rcpt["NOTIFY"], "SUCCESS,FAILURE");
  EXPECT_EQ(rcpt["ORCPT"], "rfc822;j+C3+B8rn@client.test");
}

TEST_F(ClientTest, SmtpUtf8MessageToAServerWithoutItBounces) {
  test_support::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.smtputf8 = false;
  Start(sink);
  Inject({{"\xc3\xbc@client.test"}});
  std::vector<LogEntry> entries = WaitFinal({"\xc3\xbc@client.test"});
  const LogEntry bounce = EntriesFor(entries, "\xc3\xbc@client.test").back();
  EXPECT_EQ(bounce.type, "Bounce");
  EXPECT_EQ(bounce.enhanced, "5.6.7");
  EXPECT_FALSE(HasCommandStarting(sink_->Transcripts(), "MAIL"));
}

// Two MX hosts on two sinks: the preferred one refuses at the greeting (421). Delivery moves to
// the second, and the refusing host is then skipped instead of being tried for every message.
TEST(ClientFailover, GreetingRefusedMovesOnAndTheHostIsSkippedAfterwards) {
  const std::string dir = absl::StrCat(TestTempDir(), "/failover");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  test_support::SinkOptions refusing;
  refusing.addresses = {"127.0.0.2"};
  refusing.greeting = smtp::MakeReply(421, "4.3.2", "busy, come back later");
  auto first = test_support::SmtpSink::Start(refusing);
  ASSERT_TRUE(first.ok()) << first.status();
  test_support::SinkOptions working;
  working.addresses = {"127.0.0.3"};
  working.port = (*first)->port();
  working.record = true;
  auto second = test_support::SmtpSink::Start(working);
  ASSERT_TRUE(second.ok()) << second.status();

  auto unbound = test_support::UnboundServer::Start(
      absl::StrCat(dir, "/unbound"), {{"failover.test", "MX", "10 mx1.failover.test."},
                                      {"failover.test", "MX", "20 mx2.failover.test."},
                                      {"mx1.failover.test", "A", "127.0.0.2"},
                                      {"mx2.failover.test", "A", "127.0.0.3"}});
  ASSERT_TRUE(unbound.ok()) << unbound.status();
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << "[server]\nthreads = 1\nspool = \"" << dir << "/spool\"\nlog = \"" << log_path
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"" << (*unbound)->address() << "\"]\n"
           << "[delivery]\nport = " << (*first)->port() << "\nretry_initial = \"1h\"\n"
           << "[shaping.default]\nconnection_limit = 1\nmax_deliveries_per_connection = 1\n";
  }
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  std::vector<std::string> recipients;
  for (int i = 0; i < 10; ++i) recipients.push_back(absl::StrCat("f", i, "@failover.test"));
  bench::InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  injector.connections = 1;
  auto injected = bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "s@volley.test";
        m.recipients = {recipients[i]};
        m.content = "Subject: f\r\n\r\nf\r\n";
        return m;
      },
      recipients.size());
  ASSERT_TRUE(injected.ok());
  auto entries = WaitForFinalRecords(log_path, recipients, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const std::string& r : recipients) {
    const std::vector<LogEntry> mine = EntriesFor(*entries, r);
    EXPECT_EQ(mine.back().type, "Delivery") << r;
    EXPECT_EQ(mine.back().peer_address, "127.0.0.3") << r;
  }
  // Ten connections were opened (one message each); the refusing host saw only the first.
  EXPECT_EQ((*first)->connection_stats("127.0.0.2").accepted, 1u);
  EXPECT_EQ((*second)->connection_stats("127.0.0.3").accepted, 10u);
}

}  // namespace
}  // namespace volley

namespace volley {
namespace {

// Whether [::1] can be bound: some containers and CI hosts have no IPv6 loopback, and there the
// test is skipped, as engine/inject/smtp_listener_test.cc's Ipv6 test is.
bool Ipv6LoopbackAvailable() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return bound;
}

// An MX host with only an AAAA record: delivered over IPv6.
TEST(ClientIpv6, DeliversToAnIpv6OnlyMxHost) {
  if (!Ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback here";
  const std::string dir = absl::StrCat(TestTempDir(), "/ipv6");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  test_support::SinkOptions sink_options;
  sink_options.addresses = {"::1"};
  sink_options.record = true;
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto unbound = test_support::UnboundServer::Start(
      absl::StrCat(dir, "/unbound"),
      {{"v6.test", "MX", "10 mx.v6.test."}, {"mx.v6.test", "AAAA", "::1"}});
  ASSERT_TRUE(unbound.ok()) << unbound.status();
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << "[server]\nthreads = 1\nspool = \"" << dir << "/spool\"\nlog = \"" << log_path
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"" << (*unbound)->address() << "\"]\n"
           << "[delivery]\nport = " << (*sink)->port() << "\n";
  }
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  bench::InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  auto injected = bench::InjectAll(
      injector,
      [](size_t) {
        bench::InjectMessage m;
        m.mail_from = "s@volley.test";
        m.recipients = {"six@v6.test"};
        m.content = "Subject: v6\r\n\r\nover IPv6\r\n";
        return m;
      },
      1);
  ASSERT_TRUE(injected.ok());
  auto entries = WaitForFinalRecords(log_path, {"six@v6.test"}, absl::Seconds(20));
  ASSERT_TRUE(entries.ok()) << entries.status();
  const LogEntry delivery = EntriesFor(*entries, "six@v6.test").back();
  EXPECT_EQ(delivery.type, "Delivery");
  EXPECT_EQ(delivery.peer_address, "::1");
  EXPECT_EQ(delivery.site, "mx.v6.test");
  std::vector<test_support::ReceivedMessage> got = (*sink)->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].local_address, "::1");
}

}  // namespace
}  // namespace volley
