// SMTP submission as platforms use it (issue 13): STARTTLS and AUTH on a 587-style listener,
// implicit TLS on a 465-style one, AUTH against a users file that mkpasswd wrote, with swaks and
// Python's smtplib as the clients; TLS required before AUTH and MAIL; relay after AUTH from an
// address that may not relay otherwise; the address checks. The metrics of each refusal.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/shell.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"
#include "tls/testdata/testdata_paths.h"

namespace volley {
namespace {

using test_support::EntriesFor;
using test_support::HttpGet;
using test_support::LogEntry;
using test_support::MetricValue;
using test_support::RawSmtpClient;
using test_support::RunShell;
using test_support::VolleydProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The users file, hashed by mkpasswd as an operator would: alice with yescrypt, bob with
// SHA-512-crypt.
constexpr char kAlicePassword[] = "alice-pw";
constexpr char kBobPassword[] = "bob pw!";

std::string Mkpasswd(const std::string& method, const std::string& password) {
  auto [status, out] = RunShell(absl::StrCat("mkpasswd -m ", method, " '", password, "'"));
  EXPECT_EQ(status, 0) << out;
  return std::string(absl::StripAsciiWhitespace(out));
}

std::string Plain(absl::string_view user, absl::string_view password) {
  return absl::Base64Escape(
      absl::StrCat(absl::string_view("\0", 1), user, absl::string_view("\0", 1), password));
}

class SubmissionTest : public ::testing::Test {
 protected:
  // The listeners, in config order.
  enum Listener { kSubmission = 0, kSmtps = 1, kOptional = 2, kLimited = 3 };

  static void SetUpTestSuite() {
    dir_ = new std::string(test_support::FreshTestDir("submission"));
    const std::string users = absl::StrCat(*dir_, "/users");
    const std::string alice = Mkpasswd("yescrypt", kAlicePassword);
    const std::string bob = Mkpasswd("sha512crypt", kBobPassword);
    ASSERT_THAT(alice, StartsWith("$y$"));
    ASSERT_THAT(bob, StartsWith("$6$"));
    std::ofstream(users) << "# made by mkpasswd\nalice:" << alice << "\nbob:" << bob << "\n";
    test_support::SinkOptions sink_options;
    sink_options.addresses = {"127.0.0.1"};
    sink_options.record = true;
    sink_options.keep_content = true;
    auto sink = test_support::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = sink->release();
    // Copies of their own, which the reload test replaces.
    std::filesystem::copy_file(tls::TlsTestDataPath("mx.pem"), Cert());
    std::filesystem::copy_file(tls::TlsTestDataPath("mx.key"), Key());
    const std::string config_path = absl::StrCat(*dir_, "/volley.toml");
    std::ofstream(config_path)
        << "[server]\nthreads = 2\nspool = \"" << *dir_ << "/spool\"\nlog = \"" << *dir_
        << "/delivery.jsonl\"\n"
        << "[inject.smtp]\nauth_file = \"" << users << "\"\ntls_cert = \"" << Cert()
        << "\"\ntls_key = \"" << Key() << "\"\nrelay_networks = [\"127.0.0.1/32\"]\n"
        << "[[inject.smtp.listener]]\nname = \"submission\"\nlisten = \"127.0.0.1:0\"\n"
        << "require_tls = true\nauth = \"required\"\n"
        << "[[inject.smtp.listener]]\nname = \"smtps\"\nlisten = \"127.0.0.1:0\"\n"
        << "tls = \"implicit\"\nauth = \"required\"\n"
        << "[[inject.smtp.listener]]\nname = \"optional\"\nlisten = \"127.0.0.1:0\"\n"
        << "allow_auth_without_tls = true\n"
        << "[[inject.smtp.listener]]\nname = \"limited\"\nlisten = \"127.0.0.1:0\"\n"
        << "allow_auth_without_tls = true\nmax_message_rate_per_user = \"2/m\"\n"
        << "[http]\nlisten = \"127.0.0.1:0\"\n[dns]\nservers = [\"127.0.0.1:9\"]\n"
        << test_support::RoutesToSinks({{"example.test", sink_->port()}});
    auto process = VolleydProcess::Start(config_path, absl::StrCat(*dir_, "/volleyd.log"));
    ASSERT_TRUE(process.ok()) << process.status();
    volleyd_ = process->release();
    ASSERT_EQ(volleyd_->smtp_ports().size(), 4u);
  }

  static void TearDownTestSuite() {
    delete volleyd_;
    delete sink_;
    delete dir_;
  }

  static std::string Cert() { return absl::StrCat(*dir_, "/cert.pem"); }
  static std::string Key() { return absl::StrCat(*dir_, "/key.pem"); }

  static uint16_t Port(Listener listener) { return volleyd_->smtp_ports()[listener]; }

  static std::unique_ptr<RawSmtpClient> Connect(Listener listener,
                                                const std::string& source = "127.0.0.1") {
    return RawSmtpClient::Connect("127.0.0.1", Port(listener), source);
  }

  static double Metric(const std::string& series) {
    auto metrics = HttpGet("127.0.0.1", volleyd_->http_port(), "/metrics");
    EXPECT_TRUE(metrics.ok()) << metrics.status();
    return metrics.ok() ? MetricValue(metrics->body, series) : -1;
  }

  // swaks with `args`; its exit status and transcript.
  static std::pair<int, std::string> Swaks(Listener listener, const std::string& args) {
    return RunShell(absl::StrCat("swaks --server 127.0.0.1:", Port(listener),
                                 " --ehlo app.client.test --from app@client.test ", args, " 2>&1"));
  }

  // tests/testdata/smtp_submit.py with `args`: its JSON answer.
  static nlohmann::json Smtplib(Listener listener, const std::string& args) {
    const std::string script =
        absl::StrCat(std::getenv("TEST_SRCDIR"), "/volley/tests/testdata/smtp_submit.py");
    auto [status, out] =
        RunShell(absl::StrCat(test_support::kPython, " ", script, " --port ", Port(listener),
                              " --ca ", tls::TlsTestDataPath("ca.pem"), " ", args));
    EXPECT_EQ(status, 0) << out;
    nlohmann::json answer = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(answer.is_discarded()) << out;
    return answer;
  }

  // The message the sink received for `recipient` (waits for it).
  static std::string Delivered(const std::string& recipient) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      for (const auto& message : sink_->TakeMessages()) {
        for (const std::string& r : message.recipients) {
          if (r == recipient) return message.content;
        }
        kept_.push_back(message);
      }
      for (const auto& message : kept_) {
        for (const std::string& r : message.recipients) {
          if (r == recipient) return message.content;
        }
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "no message for " << recipient;
    return "";
  }

  static LogEntry Reception(const std::string& recipient) {
    auto entries = test_support::WaitForFinalRecords(absl::StrCat(*dir_, "/delivery.jsonl"),
                                                     {recipient}, absl::Seconds(30));
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return LogEntry{};
    for (const LogEntry& e : EntriesFor(*entries, recipient)) {
      if (e.type == "Reception") return e;
    }
    ADD_FAILURE() << "no Reception for " << recipient;
    return LogEntry{};
  }

  static std::string* dir_;
  static VolleydProcess* volleyd_;
  static test_support::SmtpSink* sink_;
  static std::vector<bench::ReceivedMessage> kept_;
};

std::string* SubmissionTest::dir_ = nullptr;
VolleydProcess* SubmissionTest::volleyd_ = nullptr;
test_support::SmtpSink* SubmissionTest::sink_ = nullptr;
std::vector<bench::ReceivedMessage> SubmissionTest::kept_;

TEST_F(SubmissionTest, SwaksStartTlsAndAuthPlainWithAYescryptUser) {
  auto [status, out] = Swaks(kSubmission, absl::StrCat("--to r1@example.test --tls --auth PLAIN "
                                                       "--auth-user alice --auth-password ",
                                                       kAlicePassword));
  ASSERT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("235 2.7.0"));
  EXPECT_THAT(out, HasSubstr("250 2.0.0 OK <"));
  // RFC 4954 7 and RFC 3848: the trace names the TLS, the user and ESMTPSA.
  const std::string content = Delivered("r1@example.test");
  EXPECT_THAT(content, HasSubstr("(using TLSv1.3 with cipher "));
  EXPECT_THAT(content, HasSubstr("(Authenticated sender: alice)"));
  EXPECT_THAT(content, HasSubstr("with ESMTPSA id"));
  const LogEntry reception = Reception("r1@example.test");
  EXPECT_EQ(reception.raw.value("auth_user", ""), "alice");
  EXPECT_EQ(reception.tls_version, "TLSv1.3");
  EXPECT_FALSE(reception.tls_cipher.empty());
  // Counted by the listener's name.
  EXPECT_GE(Metric("volley_messages_received_total{listener=\"submission\"}"), 1);
  EXPECT_EQ(Metric("volley_messages_received_total{listener=\"smtps\"}"), 0);
}

TEST_F(SubmissionTest, SwaksAuthLoginWithASha512CryptUser) {
  auto [status, out] = Swaks(kSubmission, absl::StrCat("--to r2@example.test --tls --auth LOGIN "
                                                       "--auth-user bob --auth-password '",
                                                       kBobPassword, "'"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("334 VXNlcm5hbWU6"));
  EXPECT_THAT(out, HasSubstr("235 2.7.0"));
  EXPECT_EQ(Reception("r2@example.test").raw.value("auth_user", ""), "bob");
}

TEST_F(SubmissionTest, SwaksImplicitTls) {
  auto [status, out] = Swaks(kSmtps, absl::StrCat("--to r3@example.test --tls-on-connect "
                                                  "--auth PLAIN --auth-user bob --auth-password '",
                                                  kBobPassword, "'"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("250 2.0.0 OK <"));
  EXPECT_EQ(Reception("r3@example.test").tls_version, "TLSv1.3");
}

TEST_F(SubmissionTest, SmtplibStartTlsAndImplicitTlsWithBothMechanisms) {
  nlohmann::json starttls =
      Smtplib(kSubmission, absl::StrCat("--mode starttls --user alice --password ", kAlicePassword,
                                        " --to r4@example.test"));
  EXPECT_EQ(starttls["starttls"], 220);
  EXPECT_EQ(starttls["tls"], "TLSv1.3");
  EXPECT_EQ(starttls["auth"][0][0], 235);
  EXPECT_EQ(starttls["data"][0], 250) << starttls.dump();
  nlohmann::json implicit =
      Smtplib(kSmtps, absl::StrCat("--mode implicit --mechanism LOGIN --user bob --password '",
                                   kBobPassword, "' --to r5@example.test"));
  EXPECT_EQ(implicit["auth"][0][0], 235) << implicit.dump();
  EXPECT_EQ(implicit["data"][0], 250) << implicit.dump();
  EXPECT_EQ(Reception("r5@example.test").raw.value("auth_user", ""), "bob");
}

TEST_F(SubmissionTest, AWrongPasswordIs535AndEachFailureWaitsLonger) {
  const double failures = Metric("volley_auth_attempts_total{result=\"failure\"}");
  // Three wrong logins from one address, a connection each (one AUTH each: smtplib's login()
  // would go on to try LOGIN after PLAIN).
  nlohmann::json wrong =
      Smtplib(kSubmission,
              "--mode starttls --mechanism PLAIN --user alice --password nope --logins 3 "
              "--source 127.0.0.3");
  ASSERT_EQ(wrong["auth"].size(), 3u) << wrong.dump();
  for (const auto& attempt : wrong["auth"]) {
    EXPECT_EQ(attempt[0], 535) << wrong.dump();
    EXPECT_THAT(attempt[1].get<std::string>(), StartsWith("5.7.8")) << wrong.dump();
  }
  const auto& seconds = wrong["auth_seconds"];
  EXPECT_GE(seconds[0].get<double>(), 0.24);
  EXPECT_GE(seconds[1].get<double>(), 0.49);
  EXPECT_GE(seconds[2].get<double>(), 0.99);
  // No message went anywhere: MAIL without AUTH is refused on this listener.
  EXPECT_EQ(wrong["mail"][0], 530);
  // The right password from another address is answered without a delay of its own.
  nlohmann::json right = Smtplib(kSubmission, absl::StrCat("--mode starttls --user alice "
                                                           "--password ",
                                                           kAlicePassword,
                                                           " --source 127.0.0.4 "
                                                           "--to r6@example.test"));
  EXPECT_EQ(right["auth"][0][0], 235);
  EXPECT_LT(right["auth_seconds"][0].get<double>(), seconds[0].get<double>() + 0.2);
  EXPECT_GE(Metric("volley_auth_attempts_total{result=\"failure\"}"), failures + 3);
  EXPECT_GE(Metric("volley_injection_refusals_total{reason=\"auth_failed\"}"), 3);
}

TEST_F(SubmissionTest, AuthAndMailBeforeStartTlsAre530WhenTlsIsRequired) {
  const double before = Metric("volley_injection_refusals_total{reason=\"tls_required\"}");
  std::unique_ptr<RawSmtpClient> c = Connect(kSubmission);
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->ReadFinal(), StartsWith("220 "));
  const std::string ehlo = absl::StrJoin(c->Ehlo(), "\n");
  EXPECT_THAT(ehlo, HasSubstr("STARTTLS"));
  EXPECT_THAT(ehlo, Not(HasSubstr("AUTH")));  // not offered in the clear
  EXPECT_EQ(c->Command(absl::StrCat("AUTH PLAIN ", Plain("alice", kAlicePassword))),
            "530 5.7.0 Must issue a STARTTLS command first");
  EXPECT_EQ(c->Command("MAIL FROM:<app@client.test>"),
            "530 5.7.0 Must issue a STARTTLS command first");
  EXPECT_EQ(c->Command("NOOP"), "250 2.0.0 Ok");
  EXPECT_THAT(c->Command("STARTTLS"), StartsWith("220 2.0.0"));
  ASSERT_TRUE(c->StartTls().ok());
  EXPECT_THAT(absl::StrJoin(c->Ehlo(), "\n"), HasSubstr("AUTH PLAIN LOGIN"));
  EXPECT_THAT(c->Command("MAIL FROM:<app@client.test>"), StartsWith("530 5.7.0"));
  EXPECT_EQ(c->Command(absl::StrCat("AUTH PLAIN ", Plain("alice", kAlicePassword))),
            "235 2.7.0 Authentication successful");
  EXPECT_THAT(c->Command("MAIL FROM:<app@client.test>"), StartsWith("250 "));
  EXPECT_GE(Metric("volley_injection_refusals_total{reason=\"tls_required\"}"), before + 2);
}

TEST_F(SubmissionTest, AuthLetsAClientRelayFromAnAddressThatMayNotOtherwise) {
  // 127.0.0.2 is not in relay_networks.
  std::unique_ptr<RawSmtpClient> c = Connect(kOptional, "127.0.0.2");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(absl::StrJoin(c->Ehlo(), "\n"), HasSubstr("AUTH PLAIN LOGIN"));
  EXPECT_THAT(c->Command("MAIL FROM:<app@client.test>"), StartsWith("250 "));
  EXPECT_EQ(c->Command("RCPT TO:<r7@example.test>"), "550 5.7.1 relaying denied for 127.0.0.2");
  EXPECT_EQ(c->Command("RSET"), "250 2.0.0 Ok");
  EXPECT_EQ(c->Command(absl::StrCat("AUTH PLAIN ", Plain("bob", kBobPassword))),
            "235 2.7.0 Authentication successful");
  EXPECT_THAT(c->Command("MAIL FROM:<app@client.test>"), StartsWith("250 "));
  EXPECT_THAT(c->Command("RCPT TO:<r7@example.test>"), StartsWith("250 "));
  EXPECT_THAT(c->Command("DATA"), StartsWith("354"));
  EXPECT_THAT(c->Command("Subject: relayed\r\n\r\nhi\r\n."), StartsWith("250 2.0.0 OK <"));
  EXPECT_EQ(Reception("r7@example.test").raw.value("auth_user", ""), "bob");
  // From a relay network no AUTH is needed on this listener (auth = "optional").
  std::unique_ptr<RawSmtpClient> local = Connect(kOptional, "127.0.0.1");
  ASSERT_NE(local, nullptr);
  EXPECT_THAT(local->ReadFinal(), StartsWith("220 "));
  local->Ehlo();
  EXPECT_THAT(local->Command("MAIL FROM:<app@client.test>"), StartsWith("250 "));
  EXPECT_THAT(local->Command("RCPT TO:<r8@example.test>"), StartsWith("250 "));
}

TEST_F(SubmissionTest, AddressesThatWouldGoWrongAreRefusedWithAClearText) {
  const double before = Metric("volley_injection_refusals_total{reason=\"bad_address\"}");
  std::unique_ptr<RawSmtpClient> c = Connect(kOptional);
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->ReadFinal(), StartsWith("220 "));
  c->Ehlo();
  EXPECT_THAT(c->Command("MAIL FROM:<app@client.test>"), StartsWith("250 "));
  EXPECT_EQ(c->Command("RCPT TO:<j\xC3\xB6rg@example.test>"),
            "553 5.6.7 Error: a non-ASCII address needs MAIL FROM with SMTPUTF8 (RFC 6531)");
  EXPECT_EQ(c->Command("RCPT TO:<user@localhost>"),
            "501 5.1.2 Error: malformed domain: the domain has no dot (a name the public DNS "
            "could resolve has one)");
  EXPECT_EQ(c->Command("RSET"), "250 2.0.0 Ok");
  EXPECT_THAT(c->Command("MAIL FROM:<app@client.test> SMTPUTF8"), StartsWith("250 "));
  EXPECT_EQ(c->Command("RCPT TO:<user\xE2\x80\x8B@example.test>"),
            "553 5.1.3 Error: address contains an invisible character (U+200B)");
  EXPECT_THAT(c->Command("RCPT TO:<j\xC3\xB6rg@example.test>"), StartsWith("250 "));
  EXPECT_GE(Metric("volley_injection_refusals_total{reason=\"bad_address\"}"), before + 3);
}

TEST_F(SubmissionTest, AUsersMessageRateIsLimitedPerUser) {
  std::unique_ptr<RawSmtpClient> c = Connect(kLimited, "127.0.0.2");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->ReadFinal(), StartsWith("220 "));
  c->Ehlo();
  EXPECT_THAT(c->Command(absl::StrCat("AUTH PLAIN ", Plain("alice", kAlicePassword))),
              StartsWith("235 "));
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(c->Command("MAIL FROM:<app@client.test>"), StartsWith("250 ")) << i;
    EXPECT_THAT(c->Command(absl::StrCat("RCPT TO:<rate", i, "@example.test>")), StartsWith("250 "));
    EXPECT_THAT(c->Command("DATA"), StartsWith("354"));
    EXPECT_THAT(c->Command("Subject: rate\r\n\r\nhi\r\n."), StartsWith("250 2.0.0 OK <"));
  }
  EXPECT_EQ(c->Command("MAIL FROM:<app@client.test>"),
            "451 4.7.1 Error: message rate limit reached for alice, try again later");
  // Another user has an allowance of their own.
  std::unique_ptr<RawSmtpClient> other = Connect(kLimited, "127.0.0.2");
  ASSERT_NE(other, nullptr);
  EXPECT_THAT(other->ReadFinal(), StartsWith("220 "));
  other->Ehlo();
  EXPECT_THAT(other->Command(absl::StrCat("AUTH PLAIN ", Plain("bob", kBobPassword))),
              StartsWith("235 "));
  EXPECT_THAT(other->Command("MAIL FROM:<app@client.test>"), StartsWith("250 "));
  EXPECT_EQ(Metric("volley_injection_refusals_total{reason=\"message_rate_per_user\"}"), 1);
}

// Last: it changes the listeners' certificate and users.
TEST_F(SubmissionTest, SighupReloadsTheCertificateAndTheUsersAndKeepsThemWhenBroken) {
  // A file that does not load keeps what was loaded, and says why.
  std::ofstream(Cert(), std::ios::trunc) << "not a certificate\n";
  auto reloaded = volleyd_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_THAT(*reloaded, HasSubstr("the loaded version stays"));
  {
    std::unique_ptr<RawSmtpClient> c = Connect(kSubmission);
    ASSERT_NE(c, nullptr);
    EXPECT_THAT(c->ReadFinal(), StartsWith("220 "));
    c->Ehlo();
    EXPECT_THAT(c->Command("STARTTLS"), StartsWith("220 2.0.0"));
    EXPECT_TRUE(c->StartTls("mx.tls.test").ok());
  }
  // A renewed certificate (here: for another name) and a new user serve the next connections.
  std::filesystem::copy_file(tls::TlsTestDataPath("other.pem"), Cert(),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(tls::TlsTestDataPath("other.key"), Key(),
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(absl::StrCat(*dir_, "/users"), std::ios::app)
      << "carol:" << Mkpasswd("yescrypt", "carol-pw") << "\n";
  reloaded = volleyd_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_THAT(*reloaded, HasSubstr("listener submission: certificate and users reloaded"));
  std::unique_ptr<RawSmtpClient> c = Connect(kSubmission);
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->ReadFinal(), StartsWith("220 "));
  c->Ehlo();
  EXPECT_THAT(c->Command("STARTTLS"), StartsWith("220 2.0.0"));
  ASSERT_TRUE(c->StartTls("other.tls.test").ok());
  c->Ehlo();
  EXPECT_EQ(c->Command(absl::StrCat("AUTH PLAIN ", Plain("carol", "carol-pw"))),
            "235 2.7.0 Authentication successful");
}

}  // namespace
}  // namespace volley
