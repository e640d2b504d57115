#include "engine/smtp/server_session.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

struct ReceivedMessage {
  Envelope envelope;
  std::string content;
};

class TestHandler : public ServerSessionHandler {
 public:
  std::optional<Reply> CheckMailFrom(const Envelope& envelope) override {
    if (envelope.mail_from == "blocked@example.com") {
      return MakeReply(550, "5.7.1", "sender blocked");
    }
    return std::nullopt;
  }

  std::optional<Reply> CheckRecipient(const Envelope& envelope,
                                      absl::string_view recipient) override {
    recipients_seen_at_check.push_back(envelope.recipients.size());
    if (absl::StartsWith(recipient, "relay")) {
      return MakeReply(550, "5.7.1", "relay access denied");
    }
    return std::nullopt;
  }

  void OnMessage(Envelope envelope, std::string content,
                 absl::AnyInvocable<void(Reply)> done) override {
    messages.push_back({std::move(envelope), std::move(content)});
    if (async) {
      pending.push_back(std::move(done));
      return;
    }
    done(MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as Q", messages.size())));
  }

  bool async = false;
  std::vector<ReceivedMessage> messages;
  std::vector<absl::AnyInvocable<void(Reply)>> pending;
  std::vector<size_t> recipients_seen_at_check;
};

// Drives a session the way the listener does, capturing what it writes.
class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { Create(); }

  void Create() {
    session_.reset();
    closed_ = false;
    output_.clear();
    ServerSession::Transport transport;
    transport.write = [this](std::string bytes) {
      EXPECT_FALSE(closed_) << "write after close";
      ++writes_;
      output_.append(bytes);
    };
    transport.close = [this]() {
      EXPECT_FALSE(closed_) << "closed twice";
      closed_ = true;
    };
    session_ = std::make_unique<ServerSession>(options_, &handler_, std::move(transport),
                                               "192.0.2.7", "127.0.0.1");
    session_->set_resume_reading([this]() { ++resumes_; });
    session_->Start();
    greeting_ = Take();
  }

  // Feeds `bytes` and returns the reply lines written since the last call.
  std::vector<std::string> Send(absl::string_view bytes) {
    session_->Feed(bytes);
    return Take();
  }

  std::vector<std::string> Take() {
    std::vector<std::string> lines;
    if (!output_.empty()) {
      EXPECT_TRUE(absl::EndsWith(output_, "\r\n")) << output_;
      lines = absl::StrSplit(absl::string_view(output_).substr(0, output_.size() - 2), "\r\n");
    }
    output_.clear();
    return lines;
  }

  // Only the last line of each reply ("250 ..." rather than "250-...").
  static std::vector<std::string> Finals(const std::vector<std::string>& lines) {
    std::vector<std::string> finals;
    for (const std::string& line : lines) {
      if (line.size() >= 4 && line[3] == ' ') finals.push_back(line);
    }
    return finals;
  }

  void Ehlo() {
    std::vector<std::string> lines = Send("EHLO client.example\r\n");
    ASSERT_FALSE(lines.empty());
    ASSERT_THAT(lines.back(), StartsWith("250 "));
  }

  ServerSessionOptions options_;
  TestHandler handler_;
  std::unique_ptr<ServerSession> session_;
  std::string output_;
  std::vector<std::string> greeting_;
  int writes_ = 0;
  int resumes_ = 0;
  bool closed_ = false;
};

TEST_F(SessionTest, GreetingAndEhloAdvertiseExtensions) {
  options_.hostname = "mx.test";
  options_.max_message_size = 12345;
  Create();
  EXPECT_THAT(greeting_, ElementsAre("220 mx.test ESMTP Volley"));
  EXPECT_THAT(Send("EHLO client.example\r\n"),
              ElementsAre("250-mx.test", "250-PIPELINING", "250-SIZE 12345", "250-8BITMIME",
                          "250-SMTPUTF8", "250 ENHANCEDSTATUSCODES"));
  EXPECT_THAT(Send("HELO client.example\r\n"), ElementsAre("250 mx.test"));
}

TEST_F(SessionTest, EhloWithoutPipeliningOrSmtputf8) {
  options_.pipelining = false;
  options_.smtputf8 = false;
  Create();
  std::vector<std::string> lines = Send("EHLO c\r\n");
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr("PIPELINING")));
    EXPECT_THAT(line, Not(HasSubstr("SMTPUTF8")));
  }
  EXPECT_EQ(lines.back(), "250 ENHANCEDSTATUSCODES");
}

TEST_F(SessionTest, FullTransaction) {
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<sender@example.com> SIZE=100 BODY=8BITMIME\r\n"),
              ElementsAre("250 2.1.0 Ok"));
  EXPECT_THAT(Send("RCPT TO:<a@example.org>\r\n"), ElementsAre("250 2.1.5 Ok"));
  EXPECT_THAT(Send("RCPT TO:<b@example.org>\r\n"), ElementsAre("250 2.1.5 Ok"));
  EXPECT_THAT(Send("DATA\r\n"), ElementsAre("354 End data with <CR><LF>.<CR><LF>"));
  EXPECT_THAT(Send("Subject: hi\r\n\r\nbody\r\n"), IsEmpty());
  EXPECT_THAT(Send(".\r\n"), ElementsAre("250 2.0.0 Ok: queued as Q1"));
  EXPECT_THAT(Send("QUIT\r\n"), ElementsAre("221 2.0.0 Bye"));
  EXPECT_TRUE(closed_);
  EXPECT_TRUE(session_->closed());

  ASSERT_EQ(handler_.messages.size(), 1u);
  const ReceivedMessage& m = handler_.messages[0];
  EXPECT_EQ(m.envelope.mail_from, "sender@example.com");
  EXPECT_THAT(m.envelope.recipients, ElementsAre("a@example.org", "b@example.org"));
  EXPECT_EQ(m.envelope.helo, "client.example");
  EXPECT_TRUE(m.envelope.esmtp);
  EXPECT_EQ(m.envelope.peer_address, "192.0.2.7");
  EXPECT_EQ(m.envelope.local_address, "127.0.0.1");
  EXPECT_EQ(m.content, "Subject: hi\r\n\r\nbody\r\n");
  // The handler saw the recipients accepted before each check.
  EXPECT_THAT(handler_.recipients_seen_at_check, ElementsAre(0u, 1u));
}

TEST_F(SessionTest, NullReversePathAndSecondTransaction) {
  Ehlo();
  EXPECT_THAT(Finals(Send("MAIL FROM:<>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nm1\r\n.\r\n"
                          "MAIL FROM:<s@y.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\nm2\r\n.\r\n")),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>",
                          "250 2.0.0 Ok: queued as Q1", "250 2.1.0 Ok", "250 2.1.5 Ok",
                          "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as Q2"));
  ASSERT_EQ(handler_.messages.size(), 2u);
  EXPECT_EQ(handler_.messages[0].envelope.mail_from, "");
  EXPECT_EQ(handler_.messages[0].content, "m1\r\n");
  EXPECT_THAT(handler_.messages[1].envelope.recipients, ElementsAre("b@x.org"));
  EXPECT_EQ(handler_.messages[1].content, "m2\r\n");
}

const char kPipelined[] =
    "MAIL FROM:<s@example.com>\r\n"
    "RCPT TO:<a@example.org>\r\n"
    "RCPT TO:<b@example.org>\r\n"
    "DATA\r\n"
    "Subject: one\r\n"
    "\r\n"
    "..leading dot\r\n"
    ".\r\n"
    "MAIL FROM:<s@example.com>\r\n"
    "RCPT TO:<c@example.org>\r\n"
    "DATA\r\n"
    "two\r\n"
    ".\r\n"
    "QUIT\r\n";

const std::vector<std::string> kPipelinedReplies = {"250 2.1.0 Ok",
                                                    "250 2.1.5 Ok",
                                                    "250 2.1.5 Ok",
                                                    "354 End data with <CR><LF>.<CR><LF>",
                                                    "250 2.0.0 Ok: queued as Q1",
                                                    "250 2.1.0 Ok",
                                                    "250 2.1.5 Ok",
                                                    "354 End data with <CR><LF>.<CR><LF>",
                                                    "250 2.0.0 Ok: queued as Q2",
                                                    "221 2.0.0 Bye"};

TEST_F(SessionTest, PipelinedInOneFeedIsOneWrite) {
  Ehlo();
  const int writes_before = writes_;
  EXPECT_EQ(Send(kPipelined), kPipelinedReplies);
  EXPECT_EQ(writes_ - writes_before, 1);
  EXPECT_TRUE(closed_);
  ASSERT_EQ(handler_.messages.size(), 2u);
  EXPECT_EQ(handler_.messages[0].content, "Subject: one\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(handler_.messages[1].content, "two\r\n");
}

TEST_F(SessionTest, PipelinedByteByByte) {
  Ehlo();
  std::vector<std::string> lines;
  for (char c : std::string(kPipelined)) {
    for (std::string& line : Send(absl::string_view(&c, 1))) lines.push_back(std::move(line));
  }
  EXPECT_EQ(lines, kPipelinedReplies);
  ASSERT_EQ(handler_.messages.size(), 2u);
  EXPECT_EQ(handler_.messages[0].content, "Subject: one\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(handler_.messages[1].content, "two\r\n");
}

TEST_F(SessionTest, AsyncDoneHoldsBackPipelinedCommands) {
  handler_.async = true;
  Ehlo();
  EXPECT_EQ(Send(kPipelined),
            std::vector<std::string>(kPipelinedReplies.begin(), kPipelinedReplies.begin() + 4));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_FALSE(session_->wants_input());
  // More input while the handler holds the message is kept, not answered.
  EXPECT_THAT(Send("NOOP\r\n"), IsEmpty());
  EXPECT_EQ(resumes_, 0);

  // The first message's reply releases the second transaction, which then waits in turn.
  handler_.pending[0](MakeReply(250, "2.0.0", "Ok: queued as A"));
  EXPECT_THAT(Take(), ElementsAre("250 2.0.0 Ok: queued as A", "250 2.1.0 Ok", "250 2.1.5 Ok",
                                  "354 End data with <CR><LF>.<CR><LF>"));
  ASSERT_EQ(handler_.messages.size(), 2u);
  EXPECT_FALSE(session_->wants_input());
  EXPECT_EQ(resumes_, 0);

  handler_.pending[1](MakeReply(451, "4.3.0", "try later"));
  EXPECT_THAT(Take(), ElementsAre("451 4.3.0 try later", "221 2.0.0 Bye"));
  EXPECT_TRUE(closed_);
  // The NOOP sent after QUIT is never answered.
}

TEST_F(SessionTest, AsyncDoneResumesReading) {
  handler_.async = true;
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nbody\r\n.\r\n");
  EXPECT_FALSE(session_->wants_input());
  handler_.pending[0](MakeReply(250, "2.0.0", "Ok"));
  EXPECT_THAT(Take(), ElementsAre("250 2.0.0 Ok"));
  EXPECT_TRUE(session_->wants_input());
  EXPECT_EQ(resumes_, 1);
  // A second call of the same `done` is ignored.
  handler_.pending[0](MakeReply(250, "2.0.0", "again"));
  EXPECT_THAT(Take(), IsEmpty());
  EXPECT_THAT(Send("NOOP\r\n"), ElementsAre("250 2.0.0 Ok"));
}

TEST_F(SessionTest, DoneAfterSessionDestroyedIsHarmless) {
  handler_.async = true;
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n");
  ASSERT_EQ(handler_.pending.size(), 1u);
  session_.reset();
  handler_.pending[0](MakeReply(250, "2.0.0", "Ok"));
  EXPECT_TRUE(output_.empty());
}

TEST_F(SessionTest, DoneAfterDisconnectIsIgnored) {
  handler_.async = true;
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nbody\r\n.\r\n");
  session_->OnDisconnect();
  handler_.pending[0](MakeReply(250, "2.0.0", "Ok"));
  EXPECT_TRUE(output_.empty());
  EXPECT_TRUE(session_->closed());
  EXPECT_FALSE(session_->wants_input());
}

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
  EXPECT_THAT(Send("RCPT TO:<a@x.org> NOTIFY=NEVER\r\n"), ElementsAre(StartsWith("555 5.5.4 ")));
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

TEST_F(SessionTest, DotUnstuffingAndBareLf) {
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\n");
  EXPECT_THAT(Send("..\r\n...x\r\n.y\r\nbare\nend\r\n.\r\n"),
              ElementsAre("250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].content, ".\r\n..x\r\ny\r\nbare\r\nend\r\n");
}

TEST_F(SessionTest, EmptyBody) {
  Ehlo();
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\n.\r\n")),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", StartsWith("354 "),
                          "250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].content, "");
}

}  // namespace
}  // namespace volley::smtp
