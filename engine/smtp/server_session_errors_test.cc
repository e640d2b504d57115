// ServerSession: sequence and syntax errors, limits, refusals by the handler, QUIT and shutdown.
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/server_session.h"
#include "engine/smtp/server_session_test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

TEST_F(SessionTest, SequenceErrors) {
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  Ehlo();
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("DATA\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre("250 2.1.0 Ok"));
  EXPECT_THAT(Send("DATA\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  // RSET ends the transaction: MAIL is accepted again.
  EXPECT_THAT(Send("RSET\r\n"), ElementsAre("250 2.0.0 Ok"));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre("250 2.1.0 Ok"));
  // So does EHLO.
  Ehlo();
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  EXPECT_FALSE(closed_);
  EXPECT_TRUE(handler_.messages.empty());
}

TEST_F(SessionTest, SyntaxErrorsAndUnknownVerbs) {
  Ehlo();
  EXPECT_THAT(Send("FOO bar\r\n"), ElementsAre(StartsWith("500 5.5.2 ")));
  EXPECT_THAT(Send("MAIL FROM:<not an address>\r\n"), ElementsAre(StartsWith("501 5.1.7 ")));
  EXPECT_THAT(Send("MAIL TO:<s@x.org>\r\n"), ElementsAre(StartsWith("501 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> SIZE=abc\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> FROB=1\r\n"), ElementsAre(StartsWith("555 5.5.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre("250 2.1.0 Ok"));
  EXPECT_THAT(Send("RCPT TO:<bad address>\r\n"), ElementsAre(StartsWith("501 5.1.3 ")));
  EXPECT_THAT(Send("RCPT TO:<a@x.org> FROB=NEVER\r\n"), ElementsAre(StartsWith("555 5.5.4 ")));
  EXPECT_THAT(Send("STARTTLS\r\n"), ElementsAre(StartsWith("502 5.5.1 ")));
  EXPECT_THAT(Send("VRFY someone\r\n"), ElementsAre(StartsWith("252 2.5.0 ")));
  EXPECT_THAT(Send("HELP\r\n"), ElementsAre(StartsWith("214 2.0.0 ")));
  EXPECT_THAT(Send("NOOP\r\n"), ElementsAre("250 2.0.0 Ok"));
  // The transaction survived the errors.
  EXPECT_THAT(Finals(Send("RCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n")),
              ElementsAre("250 2.1.5 Ok", StartsWith("354 "), "250 2.0.0 Ok: queued as Q1"));
  EXPECT_FALSE(closed_);
}

TEST_F(SessionTest, ParametersNeedEhlo) {
  EXPECT_THAT(Send("HELO client\r\n"), ElementsAre(StartsWith("250 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> SIZE=10\r\n"), ElementsAre(StartsWith("555 5.5.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre("250 2.1.0 Ok"));
}

TEST_F(SessionTest, TooManyErrorsCloses) {
  options_.max_errors = 3;
  Create();
  EXPECT_THAT(Send("BAD\r\n"), ElementsAre(StartsWith("500 ")));
  EXPECT_THAT(Send("BAD\r\n"), ElementsAre(StartsWith("500 ")));
  EXPECT_FALSE(closed_);
  EXPECT_THAT(
      Send("BAD\r\nNOOP\r\n"),
      ElementsAre(StartsWith("500 "), "421 4.7.0 volley.localdomain Error: too many errors"));
  EXPECT_TRUE(closed_);
  EXPECT_FALSE(session_->wants_input());
  EXPECT_THAT(Send("NOOP\r\n"), IsEmpty());
}

TEST_F(SessionTest, AcceptedMessageResetsErrorCount) {
  options_.max_errors = 2;
  Create();
  Ehlo();
  EXPECT_THAT(Send("BAD\r\n"), ElementsAre(StartsWith("500 ")));
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  EXPECT_THAT(Send("BAD\r\n"), ElementsAre(StartsWith("500 ")));
  EXPECT_FALSE(closed_);
}

TEST_F(SessionTest, PipelinedCommandsAfterARefusedMailAreNotCountedAsErrors) {
  options_.max_errors = 3;
  Create();
  Ehlo();
  // A pipelining client sends MAIL, RCPT, DATA at once; when MAIL is refused, the 503s that
  // follow are our doing. Ten such transactions in a row must not get the client hung up on.
  for (int i = 0; i < 10; ++i) {
    EXPECT_THAT(Send("MAIL FROM:<blocked@example.com>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nRSET\r\n"),
                ElementsAre("550 5.7.1 sender blocked", StartsWith("503 5.5.1 "),
                            StartsWith("503 5.5.1 "), StartsWith("250 ")));
  }
  EXPECT_FALSE(closed_);
  // The same for BDAT: the chunk is consumed and refused.
  EXPECT_THAT(
      Send("MAIL FROM:<blocked@example.com>\r\nRCPT TO:<a@x.org>\r\nBDAT 3 LAST\r\nabcRSET\r\n"),
      ElementsAre("550 5.7.1 sender blocked", StartsWith("503 5.5.1 "), StartsWith("503 5.5.1 "),
                  StartsWith("250 ")));
  EXPECT_FALSE(closed_);
  // Without a refused MAIL, they are errors as before.
  Send("RCPT TO:<a@x.org>\r\nDATA\r\n");
  EXPECT_THAT(
      Send("RCPT TO:<a@x.org>\r\n"),
      ElementsAre(StartsWith("503 "), "421 4.7.0 volley.localdomain Error: too many errors"));
  EXPECT_TRUE(closed_);
}

TEST_F(SessionTest, LongCommandLine) {
  Ehlo();
  const std::string long_line = "NOOP " + std::string(1200, 'a') + "\r\n";
  EXPECT_THAT(Send(long_line + "NOOP\r\n"),
              ElementsAre("500 5.5.6 Error: line too long", "250 2.0.0 Ok"));
  // Exactly at the limit (1000 octets with CRLF) is fine.
  const std::string at_limit = "NOOP " + std::string(1000 - 7, 'a') + "\r\n";
  ASSERT_EQ(at_limit.size(), 1000u);
  EXPECT_THAT(Send(at_limit), ElementsAre("250 2.0.0 Ok"));
  // Split over several feeds.
  EXPECT_THAT(Send(long_line.substr(0, 600)), IsEmpty());
  EXPECT_THAT(Send(long_line.substr(600)), ElementsAre("500 5.5.6 Error: line too long"));
  EXPECT_FALSE(closed_);
}

TEST_F(SessionTest, SizeAboveLimitRefusedAtMail) {
  options_.max_message_size = 1000;
  Create();
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> SIZE=1001\r\n"), ElementsAre(StartsWith("552 5.3.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> SIZE=1000\r\n"), ElementsAre("250 2.1.0 Ok"));
}

TEST_F(SessionTest, OversizedBodyGets552AfterTheData) {
  options_.max_message_size = 100;
  Create();
  Ehlo();
  const std::string body(300, 'x');
  EXPECT_THAT(Finals(Send(absl::StrCat("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\n", body,
                                       "\r\n.\r\nNOOP\r\n"))),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", StartsWith("354 "),
                          "552 5.3.4 Error: message size exceeds fixed limit", "250 2.0.0 Ok"));
  EXPECT_TRUE(handler_.messages.empty());
  // The transaction is over: a new MAIL is accepted.
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\n"), ElementsAre("250 2.1.0 Ok"));
}

TEST_F(SessionTest, MaxRecipients) {
  options_.max_recipients = 2;
  Create();
  Ehlo();
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nRCPT TO:<b@x.org>\r\n"
                          "RCPT TO:<c@x.org>\r\nDATA\r\nx\r\n.\r\n")),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
                          "452 4.5.3 Error: too many recipients", StartsWith("354 "),
                          "250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_THAT(handler_.messages[0].envelope.recipients, ElementsAre("a@x.org", "b@x.org"));
}

TEST_F(SessionTest, RelayRejectionAndNoValidRecipients) {
  Ehlo();
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<relay1@x.org>\r\n"
                          "RCPT TO:<relay2@x.org>\r\nDATA\r\nbody\r\n.\r\n")),
              ElementsAre("250 2.1.0 Ok", "550 5.7.1 relay access denied",
                          "550 5.7.1 relay access denied", "554 5.5.1 Error: no valid recipients",
                          // The body lines are then taken as commands, as in any server.
                          StartsWith("500 5.5.2"), StartsWith("500 5.5.2")));
  EXPECT_TRUE(handler_.messages.empty());
  // Refused RCPTs mixed with accepted ones: only the accepted reach the handler.
  EXPECT_THAT(Finals(Send("RSET\r\nMAIL FROM:<s@x.org>\r\nRCPT TO:<relay@x.org>\r\n"
                          "RCPT TO:<ok@x.org>\r\nDATA\r\nbody\r\n.\r\n")),
              ElementsAre("250 2.0.0 Ok", "250 2.1.0 Ok", "550 5.7.1 relay access denied",
                          "250 2.1.5 Ok", StartsWith("354 "), "250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_THAT(handler_.messages[0].envelope.recipients, ElementsAre("ok@x.org"));
}

TEST_F(SessionTest, SenderRejectedByHandler) {
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<blocked@example.com>\r\n"), ElementsAre("550 5.7.1 sender blocked"));
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("MAIL FROM:<ok@example.com>\r\n"), ElementsAre("250 2.1.0 Ok"));
}

TEST_F(SessionTest, Quit) {
  EXPECT_THAT(Send("QUIT\r\nNOOP\r\n"), ElementsAre("221 2.0.0 Bye"));
  EXPECT_TRUE(closed_);
  EXPECT_TRUE(session_->closed());
}

TEST_F(SessionTest, ShutdownWhenIdle) {
  Ehlo();
  session_->Shutdown();
  EXPECT_THAT(Take(), ElementsAre(StartsWith("421 4.3.2 ")));
  EXPECT_TRUE(closed_);
}

TEST_F(SessionTest, ShutdownWithPartialCommandAnswersTheCommand) {
  Ehlo();
  EXPECT_THAT(Send("NO"), IsEmpty());
  session_->Shutdown();
  EXPECT_THAT(Take(), IsEmpty());
  EXPECT_FALSE(closed_);
  EXPECT_THAT(Send("OP\r\n"), ElementsAre(StartsWith("421 4.3.2 ")));
  EXPECT_TRUE(closed_);
}

TEST_F(SessionTest, ShutdownLetsTheMessageWithTheHandlerFinish) {
  handler_.async = true;
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nbody\r\n.\r\nMAIL FROM:<s@x.org>\r\n");
  session_->Shutdown();
  EXPECT_THAT(Take(), IsEmpty());
  EXPECT_FALSE(closed_);
  handler_.pending[0](MakeReply(250, "2.0.0", "Ok: queued"));
  EXPECT_THAT(Take(), ElementsAre("250 2.0.0 Ok: queued", StartsWith("421 4.3.2 ")));
  EXPECT_TRUE(closed_);
  EXPECT_EQ(handler_.messages.size(), 1u);
}

TEST_F(SessionTest, ShutdownDuringDataWaitsForTheEnd) {
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\npart");
  session_->Shutdown();
  EXPECT_THAT(Take(), IsEmpty());
  EXPECT_THAT(Send(" two\r\n.\r\n"),
              ElementsAre("250 2.0.0 Ok: queued as Q1", StartsWith("421 4.3.2 ")));
  EXPECT_TRUE(closed_);
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].content, "part two\r\n");
}

}  // namespace
}  // namespace volley::smtp
