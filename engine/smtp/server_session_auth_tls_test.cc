// ServerSession: AUTH PLAIN and LOGIN, STARTTLS and implicit TLS.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/server_session.h"
#include "engine/smtp/server_session_test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

std::string Plain(absl::string_view user, absl::string_view password) {
  return absl::Base64Escape(
      absl::StrCat(absl::string_view("\0", 1), user, absl::string_view("\0", 1), password));
}

class AuthTest : public SessionTest {
 protected:
  void SetUp() override {
    options_.authenticate = CheckAtOnce([](absl::string_view user, absl::string_view password) {
      return user == "alice" && password == "secret";
    });
    options_.auth_requires_tls = false;
    Create();
  }
};

TEST_F(AuthTest, AdvertisedAndPlainWithInitialResponse) {
  std::vector<std::string> ehlo = Send("EHLO c\r\n");
  EXPECT_THAT(ehlo, testing::Contains("250-AUTH PLAIN LOGIN"));
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\n"),
              ElementsAre("235 2.7.0 Authentication successful"));
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\n"),
              ElementsAre(StartsWith("503 5.5.1 ")));
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].envelope.auth_user, "alice");
}

TEST_F(AuthTest, PlainWithChallenge) {
  Ehlo();
  EXPECT_THAT(Send("AUTH PLAIN\r\n"), ElementsAre("334 "));
  EXPECT_THAT(Send(Plain("alice", "secret") + "\r\n"),
              ElementsAre("235 2.7.0 Authentication successful"));
  // With an authorization identity equal to the user.
  Create();
  Ehlo();
  EXPECT_THAT(
      Send("AUTH PLAIN " + absl::Base64Escape(std::string("alice\0alice\0secret", 18)) + "\r\n"),
      ElementsAre(StartsWith("235 ")));
}

TEST_F(AuthTest, Login) {
  Ehlo();
  EXPECT_THAT(Send("AUTH LOGIN\r\n"), ElementsAre("334 VXNlcm5hbWU6"));
  EXPECT_THAT(Send(absl::Base64Escape("alice") + "\r\n"), ElementsAre("334 UGFzc3dvcmQ6"));
  EXPECT_THAT(Send(absl::Base64Escape("secret") + "\r\n"),
              ElementsAre("235 2.7.0 Authentication successful"));
  // Initial response with the user name, and the challenge/response lines are command lines.
  Create();
  Ehlo();
  EXPECT_THAT(Send("auth login " + absl::Base64Escape("alice") + "\r\n"),
              ElementsAre("334 UGFzc3dvcmQ6"));
  EXPECT_THAT(Send(absl::Base64Escape("wrong") + "\r\n"), ElementsAre(StartsWith("535 5.7.8 ")));
  EXPECT_EQ(handler_.lines.back(), absl::Base64Escape("wrong"));
}

TEST_F(AuthTest, Failures) {
  Ehlo();
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "wrong") + "\r\n"),
              ElementsAre(StartsWith("535 5.7.8 ")));
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("bob", "secret") + "\r\n"),
              ElementsAre(StartsWith("535 5.7.8 ")));
  EXPECT_THAT(Send("AUTH PLAIN not*base64\r\n"), ElementsAre(StartsWith("501 5.5.2 ")));
  EXPECT_THAT(Send("AUTH PLAIN YWxpY2U\r\n"), ElementsAre(StartsWith("501 5.5.2 ")));  // no pad
  EXPECT_THAT(Send("AUTH PLAIN " + absl::Base64Escape("alice") + "\r\n"),
              ElementsAre(StartsWith("501 5.5.2 ")));                            // no NULs
  EXPECT_THAT(Send("AUTH PLAIN =\r\n"), ElementsAre(StartsWith("501 5.5.2 ")));  // empty
  EXPECT_THAT(Send("AUTH PLAIN\r\n*\r\n"), ElementsAre("334 ", StartsWith("501 5.7.0 ")));
  EXPECT_THAT(Send("AUTH LOGIN\r\n*\r\n"),
              ElementsAre("334 VXNlcm5hbWU6", StartsWith("501 5.7.0 ")));
  EXPECT_THAT(Send("AUTH CRAM-MD5\r\n"), ElementsAre(StartsWith("504 5.5.4 ")));
  EXPECT_THAT(Send("AUTH\r\n"), ElementsAre(StartsWith("501 ")));
  // A cancelled exchange leaves a normal session.
  EXPECT_THAT(Send("NOOP\r\n"), ElementsAre("250 2.0.0 Ok"));
  // Not inside a transaction.
  Send("MAIL FROM:<s@x.org>\r\n");
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\n"),
              ElementsAre(StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("RSET\r\nAUTH PLAIN " + Plain("alice", "secret") + "\r\n"),
              ElementsAre("250 2.0.0 Ok", StartsWith("235 ")));
}

TEST_F(AuthTest, NeedsEhlo) {
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\n"),
              ElementsAre(StartsWith("503 5.5.1 ")));
  Send("HELO c\r\n");
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\n"),
              ElementsAre(StartsWith("503 5.5.1 ")));
}

TEST_F(AuthTest, AuthRequired) {
  options_.auth_required = true;
  Create();
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"),
              ElementsAre("530 5.7.0 Error: authentication required"));
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\nMAIL FROM:<s@x.org>\r\n"),
              ElementsAre(StartsWith("235 "), "250 2.1.0 Ok"));
}

TEST_F(AuthTest, NotConfiguredIs502) {
  options_.authenticate = nullptr;
  Create();
  std::vector<std::string> ehlo = Send("EHLO c\r\n");
  EXPECT_THAT(ehlo, Not(testing::Contains(HasSubstr("AUTH"))));
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\n"),
              ElementsAre(StartsWith("502 5.5.1 ")));
}

TEST_F(SessionTest, StartTlsNotOfferedWithoutTransportHook) {
  std::vector<std::string> ehlo = Send("EHLO c\r\n");
  EXPECT_THAT(ehlo, Not(testing::Contains(HasSubstr("STARTTLS"))));
  EXPECT_THAT(Send("STARTTLS\r\n"), ElementsAre(StartsWith("502 5.5.1 ")));
}

TEST_F(SessionTest, StartTlsDiscardsPlaintextAfterItAndStartsOver) {
  with_start_tls_ = true;
  options_.authenticate = CheckAtOnce([](absl::string_view, absl::string_view) { return true; });
  Create();
  std::vector<std::string> ehlo = Send("EHLO c\r\n");
  EXPECT_THAT(ehlo, testing::Contains("250-STARTTLS"));
  // AUTH requires TLS by default: not offered yet, and refused.
  EXPECT_THAT(ehlo, Not(testing::Contains(HasSubstr("AUTH"))));
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("u", "p") + "\r\n"),
              ElementsAre(StartsWith("538 5.7.11 ")));
  EXPECT_THAT(Send("STARTTLS now\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\nSTARTTLS\r\nRSET\r\n"),
              ElementsAre("250 2.1.0 Ok", StartsWith("503 5.5.1 "), "250 2.0.0 Ok"));
  handler_.lines.clear();
  events_.clear();

  // The injection attempt of CVE-2011-0411: commands in the same packet as STARTTLS.
  EXPECT_THAT(Send("STARTTLS\r\nMAIL FROM:<evil@x.org>\r\nRCPT TO:<a@x.org>\r\n"),
              ElementsAre("220 2.0.0 Ready to start TLS"));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0], "write 220 2.0.0 Ready to start TLS\r\n");  // the 220 goes out first
  EXPECT_EQ(events_[1], "start_tls");
  // And more plaintext before the handshake is done.
  EXPECT_THAT(Send("MAIL FROM:<evil2@x.org>\r\n"), IsEmpty());
  EXPECT_THAT(handler_.lines, ElementsAre("STARTTLS"));

  session_->OnTlsEstablished("TLSv1.3", "TLS_AES_128_GCM_SHA256");
  EXPECT_THAT(Take(), IsEmpty());
  // The session starts over: no MAIL was taken, and EHLO is needed again.
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"),
              ElementsAre("503 5.5.1 Error: send HELO/EHLO first"));
  ehlo = Send("EHLO c\r\n");
  EXPECT_THAT(ehlo, Not(testing::Contains(HasSubstr("STARTTLS"))));
  EXPECT_THAT(ehlo, testing::Contains("250-AUTH PLAIN LOGIN"));
  EXPECT_THAT(Send("STARTTLS\r\n"), ElementsAre("503 5.5.1 Error: TLS already active"));
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("u", "p") + "\r\n"), ElementsAre(StartsWith("235 ")));
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(handler_.messages.size(), 1u);
  const Envelope& e = handler_.messages[0].envelope;
  EXPECT_EQ(e.mail_from, "s@x.org");
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.tls_version, "TLSv1.3");
  EXPECT_EQ(e.tls_cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(e.auth_user, "u");
  EXPECT_EQ(e.helo, "c");
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "start_tls"), 1);
}

TEST_F(SessionTest, StartTlsForgetsAnEarlierAuth) {
  with_start_tls_ = true;
  options_.authenticate = CheckAtOnce([](absl::string_view, absl::string_view) { return true; });
  options_.auth_requires_tls = false;
  Create();
  Ehlo();
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("u", "p") + "\r\nSTARTTLS\r\n"),
              ElementsAre(StartsWith("235 "), StartsWith("220 ")));
  session_->OnTlsEstablished("TLSv1.2", "ECDHE");
  Ehlo();
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("v", "p") + "\r\n"), ElementsAre(StartsWith("235 ")));
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].envelope.auth_user, "v");
}

TEST_F(SessionTest, StartTlsAfterAHeldMessageStillDiscardsTheRest) {
  with_start_tls_ = true;
  handler_.async = true;
  Create();
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\nSTARTTLS\r\nQUIT\r\n");
  ASSERT_EQ(handler_.pending.size(), 1u);
  handler_.pending[0](MakeReply(250, "2.0.0", "Ok"));
  EXPECT_THAT(Take(), ElementsAre("250 2.0.0 Ok", "220 2.0.0 Ready to start TLS"));
  EXPECT_FALSE(closed_);                 // the QUIT was discarded
  EXPECT_TRUE(session_->wants_input());  // the transport must read the handshake
  session_->OnTlsEstablished("TLSv1.3", "X");
  EXPECT_THAT(Send("QUIT\r\n"), ElementsAre("221 2.0.0 Bye"));
}

TEST_F(SessionTest, ImplicitTlsBeforeStart) {
  with_start_tls_ = true;
  Create();
  // Create() already started; a fresh session for the implicit-TLS order.
  ServerSession::Transport transport;
  std::string out;
  transport.write = [&out](std::string bytes) { out += bytes; };
  transport.close = [] {};
  ServerSession session(options_, &handler_, std::move(transport), "192.0.2.1", "127.0.0.1");
  session.OnTlsEstablished("TLSv1.3", "TLS_AES_256_GCM_SHA384");
  session.Start();
  EXPECT_THAT(out, StartsWith("220 "));
  out.clear();
  session.Feed("EHLO c\r\nMAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  EXPECT_THAT(out, Not(HasSubstr("STARTTLS")));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_TRUE(handler_.messages[0].envelope.tls);
  EXPECT_EQ(handler_.messages[0].envelope.tls_cipher, "TLS_AES_256_GCM_SHA384");
}

TEST_F(SessionTest, ShutdownDuringTlsHandshakeAnswersAfterIt) {
  with_start_tls_ = true;
  Create();
  Ehlo();
  EXPECT_THAT(Send("STARTTLS\r\n"), ElementsAre(StartsWith("220 ")));
  session_->Shutdown();
  EXPECT_THAT(Take(), IsEmpty());
  session_->OnTlsEstablished("TLSv1.3", "X");
  EXPECT_THAT(Take(), ElementsAre(StartsWith("421 4.3.2 ")));
  EXPECT_TRUE(closed_);
}

// The credential check answers later (it runs on a pool): pipelined commands behind the AUTH
// wait for its answer, and the session reads no input meanwhile.
TEST_F(SessionTest, AuthAnsweredLaterHoldsThePipelinedCommandsBehindIt) {
  std::vector<AuthAttempt> attempts;
  absl::AnyInvocable<void(bool)> pending;
  options_.authenticate = [&](AuthAttempt attempt, absl::AnyInvocable<void(bool)> done) {
    attempts.push_back(std::move(attempt));
    pending = std::move(done);
  };
  options_.auth_requires_tls = false;
  Create();
  Ehlo();
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\nMAIL FROM:<s@x.org>\r\n"),
              IsEmpty());
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].user, "alice");
  EXPECT_EQ(attempts[0].password, "secret");
  EXPECT_EQ(attempts[0].peer_address, "192.0.2.7");
  EXPECT_FALSE(session_->wants_input());
  EXPECT_EQ(session_->waiting(), ServerSession::Waiting::kNothing);
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\n"), IsEmpty());  // buffered, not answered
  const int resumes = resumes_;
  pending(true);
  EXPECT_THAT(Finals(Take()), ElementsAre("235 2.7.0 Authentication successful",
                                          StartsWith("250 2.1.0"), StartsWith("250 2.1.5")));
  EXPECT_TRUE(session_->wants_input());
  EXPECT_EQ(resumes_, resumes + 1);
  EXPECT_THAT(Send("DATA\r\nx\r\n.\r\n"), ElementsAre(StartsWith("354"), StartsWith("250")));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].envelope.auth_user, "alice");
}

TEST_F(SessionTest, AFailedCheckAnsweredLaterIs535AndAnAnswerAfterTheSessionIsHarmless) {
  absl::AnyInvocable<void(bool)> pending;
  options_.authenticate = [&](AuthAttempt, absl::AnyInvocable<void(bool)> done) {
    pending = std::move(done);
  };
  options_.auth_requires_tls = false;
  std::vector<std::string> refusals;
  options_.on_refusal = [&](absl::string_view reason) { refusals.emplace_back(reason); };
  Create();
  Ehlo();
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "nope") + "\r\n"), IsEmpty());
  pending(false);
  EXPECT_THAT(Take(), ElementsAre(StartsWith("535 5.7.8 ")));
  EXPECT_THAT(refusals, ElementsAre("auth_failed"));
  // Another attempt, and the session ends before its answer.
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("alice", "secret") + "\r\n"), IsEmpty());
  session_.reset();
  pending(true);  // nothing to answer: must not crash
}

TEST_F(SessionTest, TlsRequiredRefusesEverythingButTheGreetingCommandsBeforeStartTls) {
  with_start_tls_ = true;
  options_.tls_required = true;
  options_.authenticate = CheckAtOnce([](absl::string_view, absl::string_view) { return true; });
  std::vector<std::string> refusals;
  options_.on_refusal = [&](absl::string_view reason) { refusals.emplace_back(reason); };
  Create();
  Ehlo();
  EXPECT_THAT(Send("NOOP\r\nRSET\r\n"), ElementsAre("250 2.0.0 Ok", "250 2.0.0 Ok"));
  for (const char* command : {"MAIL FROM:<s@x.org>", "RCPT TO:<a@x.org>", "DATA", "VRFY a",
                              "AUTH PLAIN AGFsaWNlAHNlY3JldA=="}) {
    EXPECT_THAT(Send(absl::StrCat(command, "\r\n")),
                ElementsAre("530 5.7.0 Must issue a STARTTLS command first"))
        << command;
  }
  EXPECT_EQ(refusals.size(), 5u);
  EXPECT_THAT(Send("STARTTLS\r\n"), ElementsAre(StartsWith("220 ")));
  session_->OnTlsEstablished("TLSv1.3", "TLS_AES_128_GCM_SHA256");
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre(StartsWith("250 ")));
}

}  // namespace
}  // namespace volley::smtp
