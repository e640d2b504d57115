#include "engine/smtp/server_session.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
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

  void OnCommandLine(const Envelope& envelope, absl::string_view line) override {
    lines.emplace_back(line);
    line_session_ids.push_back(envelope.session_id);
  }

  bool ContinueData(const Envelope& envelope, size_t bytes_so_far) override {
    EXPECT_FALSE(envelope.recipients.empty());
    data_progress.push_back(bytes_so_far);
    return drop_at == 0 || bytes_so_far < drop_at;
  }

  void OnMessage(Envelope envelope, std::string content,
                 absl::AnyInvocable<void(MessageResponse)> done) override {
    messages.push_back({std::move(envelope), std::move(content)});
    if (async) {
      pending.push_back(std::move(done));
      return;
    }
    done(MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as Q", messages.size())));
  }

  bool async = false;
  size_t drop_at = 0;  // ContinueData refuses once this many content octets arrived (0: never)
  std::vector<std::string> lines;  // OnCommandLine
  std::vector<uint64_t> line_session_ids;
  std::vector<size_t> data_progress;  // ContinueData's bytes_so_far
  std::vector<ReceivedMessage> messages;
  std::vector<absl::AnyInvocable<void(MessageResponse)>> pending;
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
      events_.push_back("write " + bytes);
      output_.append(bytes);
    };
    transport.close = [this]() {
      EXPECT_FALSE(closed_) << "closed twice";
      closed_ = true;
    };
    if (with_start_tls_) {
      transport.start_tls = [this]() {
        EXPECT_FALSE(closed_);
        events_.push_back("start_tls");
      };
    }
    events_.clear();
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
  bool with_start_tls_ = false;      // give the session a Transport::start_tls
  std::vector<std::string> events_;  // "write <bytes>" and "start_tls", in order
};

TEST_F(SessionTest, GreetingAndEhloAdvertiseExtensions) {
  options_.hostname = "mx.test";
  options_.max_message_size = 12345;
  Create();
  EXPECT_THAT(greeting_, ElementsAre("220 mx.test ESMTP Volley"));
  EXPECT_THAT(Send("EHLO client.example\r\n"),
              ElementsAre("250-mx.test", "250-PIPELINING", "250-SIZE 12345", "250-8BITMIME",
                          "250-SMTPUTF8", "250-DSN", "250-CHUNKING", "250 ENHANCEDSTATUSCODES"));
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

TEST_F(SessionTest, AHandlers421EndsTheSessionAfterTheReply) {
  handler_.async = true;
  Ehlo();
  // Pipelined commands after the message are never answered: the 421 closes the channel.
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\n");
  ASSERT_EQ(handler_.pending.size(), 1u);
  handler_.pending[0](MakeReply(421, "4.3.2", "spool stopped"));
  EXPECT_THAT(Take(), ElementsAre("421 4.3.2 spool stopped"));
  EXPECT_TRUE(closed_);
  EXPECT_TRUE(session_->closed());
}

TEST_F(SessionTest, AHandlerMayCloseAfterAnyReplyOrDisconnectWithoutOne) {
  handler_.async = true;
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nbody\r\n.\r\n");
  MessageResponse last = MakeReply(554, "5.7.0", "go away");
  last.then = MessageResponse::Then::kClose;
  handler_.pending[0](std::move(last));
  EXPECT_THAT(Take(), ElementsAre("554 5.7.0 go away"));
  EXPECT_TRUE(closed_);

  Create();
  handler_.pending.clear();
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nbody\r\n.\r\n");
  ASSERT_EQ(handler_.pending.size(), 1u);
  handler_.pending[0](MessageResponse::Disconnect());
  EXPECT_THAT(Take(), IsEmpty());
  EXPECT_TRUE(closed_);
}

TEST_F(SessionTest, ChunksOfAnAbandonedBdatTransactionDoNotCountAgainstTheNextMessage) {
  options_.max_message_size = 10;
  Create();
  Ehlo();
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 6\r\n123456")),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: 6 octets received"));
  EXPECT_THAT(Send("RSET\r\n"), ElementsAre("250 2.0.0 Ok"));
  // Six more octets fit the limit of ten: the first six went with the RSET (RFC 3030 2).
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 6 LAST\r\nabcdef")),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].content, "abcdef");
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

// --- Extensions: parameters, DSN, CHUNKING, greeting, AUTH, STARTTLS, hooks. ---

TEST_F(SessionTest, EhloWithoutOptionalExtensions) {
  options_.eightbitmime = false;
  options_.dsn = false;
  options_.chunking = false;
  Create();
  EXPECT_THAT(Send("EHLO c\r\n"),
              ElementsAre("250-volley.localdomain", "250-PIPELINING", StartsWith("250-SIZE "),
                          "250-SMTPUTF8", "250 ENHANCEDSTATUSCODES"));
}

TEST_F(SessionTest, DsnParametersAreKeptPerRecipient) {
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> RET=hdrs ENVID=QQ+2B1.x SIZE=10\r\n"),
              ElementsAre("250 2.1.0 Ok"));
  EXPECT_THAT(Send("RCPT TO:<a@x.org> NOTIFY=SUCCESS,failure,DELAY ORCPT=rfc822;a+40x.org\r\n"),
              ElementsAre("250 2.1.5 Ok"));
  // A refused recipient leaves no entry: the parameters stay parallel to the recipients.
  EXPECT_THAT(Send("RCPT TO:<relay@x.org> NOTIFY=NEVER\r\n"),
              ElementsAre("550 5.7.1 relay access denied"));
  EXPECT_THAT(Send("RCPT TO:<b@x.org> NOTIFY=NEVER\r\n"), ElementsAre("250 2.1.5 Ok"));
  EXPECT_THAT(Send("RCPT TO:<c@x.org>\r\n"), ElementsAre("250 2.1.5 Ok"));
  // RFC 6533: utf-8 addresses in ORCPT.
  EXPECT_THAT(Send("RCPT TO:<d@x.org> ORCPT=utf-8;j\xC3\xB6rg\\x{40}x.org\r\n"),
              ElementsAre("250 2.1.5 Ok"));
  Send("DATA\r\nbody\r\n.\r\n");
  ASSERT_EQ(handler_.messages.size(), 1u);
  const Envelope& e = handler_.messages[0].envelope;
  using Params = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(e.mail_params, (Params{{"RET", "hdrs"}, {"ENVID", "QQ+2B1.x"}, {"SIZE", "10"}}));
  EXPECT_THAT(e.recipients, ElementsAre("a@x.org", "b@x.org", "c@x.org", "d@x.org"));
  ASSERT_EQ(e.recipient_params.size(), 4u);
  EXPECT_EQ(e.recipient_params[0],
            (Params{{"NOTIFY", "SUCCESS,failure,DELAY"}, {"ORCPT", "rfc822;a+40x.org"}}));
  EXPECT_EQ(e.recipient_params[1], (Params{{"NOTIFY", "NEVER"}}));
  EXPECT_TRUE(e.recipient_params[2].empty());
  EXPECT_EQ(e.recipient_params[3], (Params{{"ORCPT", "utf-8;j\xC3\xB6rg\\x{40}x.org"}}));
  EXPECT_FALSE(e.bdat);
  EXPECT_FALSE(e.smtputf8_requested);
}

TEST_F(SessionTest, BadDsnValuesGet501) {
  Ehlo();
  for (const std::string& mail :
       std::vector<std::string>{"RET=ALL", "RET=FULL RET=HDRS", "ENVID=" + std::string(101, 'a'),
                                "ENVID=a+2g", "ENVID=a+2", "ENVID=a+2b"}) {
    EXPECT_THAT(Send("MAIL FROM:<s@x.org> " + mail + "\r\n"), ElementsAre(StartsWith("501 5.5.4 ")))
        << mail;
  }
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> ENVID=" + std::string(100, 'a') + "\r\n"),
              ElementsAre("250 2.1.0 Ok"));
  for (const std::string& rcpt : std::vector<std::string>{
           "NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=BOGUS", "NOTIFY=SUCCESS,",
           "ORCPT=rfc822", "ORCPT=;a@x.org", "ORCPT=rfc822;", "ORCPT=rfc822;j\xC3\xB6rg@x.org",
           "ORCPT=rfc822;" + std::string(495, 'a'), "NOTIFY=NEVER NOTIFY=NEVER"}) {
    EXPECT_THAT(Send("RCPT TO:<a@x.org> " + rcpt + "\r\n"), ElementsAre(StartsWith("501 5.5.4 ")))
        << rcpt;
  }
  // No recipient was taken.
  EXPECT_THAT(Send("DATA\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
}

TEST_F(SessionTest, UnknownOrDisabledParametersGet555) {
  options_.dsn = false;
  options_.eightbitmime = false;
  options_.smtputf8 = false;
  options_.chunking = false;
  Create();
  Ehlo();
  for (const char* mail : {"RET=FULL", "ENVID=x", "BODY=8BITMIME", "BODY=BINARYMIME", "SMTPUTF8",
                           "AUTH=<>", "FROB", "X-THING=1"}) {
    EXPECT_THAT(Send(absl::StrCat("MAIL FROM:<s@x.org> ", mail, "\r\n")),
                ElementsAre(StartsWith("555 5.5.4 ")))
        << mail;
  }
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> BODY=7BIT\r\n"), ElementsAre("250 2.1.0 Ok"));
  for (const char* rcpt : {"NOTIFY=NEVER", "ORCPT=rfc822;a@x.org", "FROB=1"}) {
    EXPECT_THAT(Send(absl::StrCat("RCPT TO:<a@x.org> ", rcpt, "\r\n")),
                ElementsAre(StartsWith("555 5.5.4 ")))
        << rcpt;
  }
  // BDAT when CHUNKING is not offered.
  EXPECT_THAT(Send("BDAT 0 LAST\r\n"), ElementsAre(StartsWith("502 5.5.1 ")));
}

TEST_F(SessionTest, BodyAndSmtputf8Parameters) {
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> BODY=FOO\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> SMTPUTF8=yes\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> SIZE=1 SIZE=2\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> BODY=8bitmime SMTPUTF8\r\n"), ElementsAre("250 2.1.0 Ok"));
  Send("RCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_TRUE(handler_.messages[0].envelope.smtputf8_requested);
  // The flag belongs to the transaction.
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(handler_.messages.size(), 2u);
  EXPECT_FALSE(handler_.messages[1].envelope.smtputf8_requested);
  // A refused MAIL leaves nothing behind either.
  EXPECT_THAT(Send("MAIL FROM:<s@x.org> SMTPUTF8 FROB\r\n"), ElementsAre(StartsWith("555 ")));
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(handler_.messages.size(), 3u);
  EXPECT_FALSE(handler_.messages[2].envelope.smtputf8_requested);
}

TEST_F(SessionTest, BdatChunksAreTakenVerbatim) {
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\n"),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok"));
  // Dots, a lone "." line and bare LFs mean nothing inside a chunk.
  EXPECT_THAT(Send("BDAT 10\r\n.\r\nxy\r\n.\r\n"), ElementsAre("250 2.0.0 Ok: 10 octets received"));
  EXPECT_THAT(Send("BDAT 5 LAST\r\nA\nB\r\n"), ElementsAre("250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].content, ".\r\nxy\r\n.\r\nA\nB\r\n");
  EXPECT_TRUE(handler_.messages[0].envelope.bdat);
  EXPECT_THAT(handler_.messages[0].envelope.recipients, ElementsAre("a@x.org"));
  // The chunk contents are not command lines.
  EXPECT_THAT(handler_.lines, ElementsAre("EHLO client.example", "MAIL FROM:<s@x.org>",
                                          "RCPT TO:<a@x.org>", "BDAT 10", "BDAT 5 LAST"));
  // The transaction is over.
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
}

const char kPipelinedBdat[] =
    "MAIL FROM:<s@x.org>\r\n"
    "RCPT TO:<a@x.org>\r\n"
    "BDAT 4\r\n"
    "a\r\nb"
    "BDAT 0\r\n"
    "BDAT 10 LAST\r\n"
    "QUIT\r\n\0\xff\r\n"
    "MAIL FROM:<t@x.org>\r\n"
    "RCPT TO:<b@x.org>\r\n"
    "BDAT 3 LAST\r\n"
    "two"
    "QUIT\r\n";

const std::vector<std::string> kPipelinedBdatReplies = {"250 2.1.0 Ok",
                                                        "250 2.1.5 Ok",
                                                        "250 2.0.0 Ok: 4 octets received",
                                                        "250 2.0.0 Ok: 0 octets received",
                                                        "250 2.0.0 Ok: queued as Q1",
                                                        "250 2.1.0 Ok",
                                                        "250 2.1.5 Ok",
                                                        "250 2.0.0 Ok: queued as Q2",
                                                        "221 2.0.0 Bye"};

TEST_F(SessionTest, PipelinedBdatInOneFeedAndByteByByte) {
  const std::string input(kPipelinedBdat, sizeof(kPipelinedBdat) - 1);
  for (bool byte_by_byte : {false, true}) {
    Create();
    Ehlo();
    handler_.messages.clear();
    std::vector<std::string> lines;
    if (byte_by_byte) {
      for (char c : input) {
        for (std::string& line : Send(absl::string_view(&c, 1))) lines.push_back(std::move(line));
      }
    } else {
      const int writes_before = writes_;
      lines = Send(input);
      EXPECT_EQ(writes_ - writes_before, 1);
    }
    EXPECT_EQ(lines, kPipelinedBdatReplies) << byte_by_byte;
    EXPECT_TRUE(closed_);
    ASSERT_EQ(handler_.messages.size(), 2u);
    EXPECT_EQ(handler_.messages[0].content, std::string("a\r\nbQUIT\r\n\0\xff\r\n", 14));
    EXPECT_EQ(handler_.messages[1].content, "two");
    EXPECT_EQ(handler_.messages[1].envelope.mail_from, "t@x.org");
  }
}

TEST_F(SessionTest, BdatHeldByAsyncHandlerKeepsPipelinedCommands) {
  handler_.async = true;
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 2 LAST\r\nabNOOP\r\n"),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok"));
  EXPECT_FALSE(session_->wants_input());
  handler_.pending[0](MakeReply(250, "2.0.0", "later"));
  EXPECT_THAT(Take(), ElementsAre("250 2.0.0 later", "250 2.0.0 Ok"));
  EXPECT_TRUE(session_->wants_input());
}

TEST_F(SessionTest, RefusedBdatChunksAreStillConsumed) {
  Ehlo();
  // No MAIL: 503, and the 6 octets ("NOOP\r\n") are not taken for a command.
  EXPECT_THAT(Send("BDAT 6\r\nNOOP\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  // MAIL but every RCPT refused.
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<relay@x.org>\r\nBDAT 6 LAST\r\nQUIT\r\n"
                          "NOOP\r\n")),
              ElementsAre("250 2.1.0 Ok", "550 5.7.1 relay access denied", StartsWith("503 5.5.1 "),
                          "250 2.0.0 Ok"));
  EXPECT_FALSE(closed_);
  // The transaction survives: a good RCPT and BDAT complete it.
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\nBDAT 1 LAST\r\nz"),
              ElementsAre("250 2.1.5 Ok", "250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].content, "z");
  // Syntax errors cannot be skipped: there is no size to skip.
  EXPECT_THAT(Send("BDAT\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("BDAT x\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("BDAT 5 NOTLAST\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("BDAT 5 LAST more\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
  EXPECT_THAT(Send("BDAT 123456789012345678901\r\n"), ElementsAre(StartsWith("501 5.5.4 ")));
}

TEST_F(SessionTest, BdatOverTheSizeLimitGets552AndEndsTheTransaction) {
  options_.max_message_size = 10;
  Create();
  Ehlo();
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 6\r\n123456"
                          "BDAT 6 LAST\r\n7890ab")),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: 6 octets received",
                          "552 5.3.4 Error: message size exceeds fixed limit"));
  EXPECT_THAT(Send("RCPT TO:<a@x.org>\r\n"), ElementsAre(StartsWith("503 5.5.1 ")));
  // A chunk too big on its own, split over feeds; the pipelined NOOP behind it is answered.
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 1000000 LAST\r\n"),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok"));
  EXPECT_THAT(Send(std::string(999999, 'x')), IsEmpty());
  EXPECT_THAT(Send("yNOOP\r\n"),
              ElementsAre("552 5.3.4 Error: message size exceeds fixed limit", "250 2.0.0 Ok"));
  EXPECT_TRUE(handler_.messages.empty());
  // Exactly at the limit is fine.
  EXPECT_THAT(
      Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 10 LAST\r\n1234567890")),
      ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as Q1"));
}

TEST_F(SessionTest, DataAndBdatDoNotMix) {
  Ehlo();
  EXPECT_THAT(Finals(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 3\r\nabcDATA\r\n")),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: 3 octets received",
                          StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("BDAT 0 LAST\r\n"), ElementsAre("250 2.0.0 Ok: queued as Q1"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].content, "abc");
  // BODY=BINARYMIME is not offered, so it is refused even with CHUNKING on.
  EXPECT_THAT(Send("RSET\r\nMAIL FROM:<s@x.org> BODY=BINARYMIME\r\n"),
              ElementsAre("250 2.0.0 Ok", StartsWith("555 5.5.4 ")));
  // After DATA the transaction is over, so a BDAT after it has no MAIL.
  EXPECT_THAT(Finals(Send("RSET\r\nMAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nx\r\n.\r\n"
                          "BDAT 1 LAST\r\ny")),
              ElementsAre("250 2.0.0 Ok", "250 2.1.0 Ok", "250 2.1.5 Ok", StartsWith("354 "),
                          "250 2.0.0 Ok: queued as Q2", StartsWith("503 5.5.1 ")));
}

TEST_F(SessionTest, TransientGreetingClosesAtOnce) {
  options_.greeting = MakeReply(421, "4.3.2", "mx.test Service not available");
  Create();
  EXPECT_THAT(greeting_, ElementsAre("421 4.3.2 mx.test Service not available"));
  EXPECT_TRUE(closed_);
  EXPECT_THAT(Send("EHLO c\r\n"), IsEmpty());
}

TEST_F(SessionTest, PermanentGreetingRefusesEverythingButQuit) {
  options_.greeting = MakeReply(554, "5.3.2", "mx.test No SMTP service here");
  Create();
  EXPECT_THAT(greeting_, ElementsAre("554 5.3.2 mx.test No SMTP service here"));
  EXPECT_FALSE(closed_);
  EXPECT_THAT(
      Send("EHLO c\r\nMAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nNOOP\r\n"),
      ElementsAre(StartsWith("503 5.5.1 "), StartsWith("503 5.5.1 "), StartsWith("503 5.5.1 "),
                  StartsWith("503 5.5.1 "), StartsWith("503 5.5.1 ")));
  EXPECT_THAT(Send("QUIT\r\n"), ElementsAre("221 2.0.0 Bye"));
  EXPECT_TRUE(closed_);
  EXPECT_TRUE(handler_.messages.empty());
}

TEST_F(SessionTest, CustomPositiveGreeting) {
  options_.greeting = MakeReply(220, "", "mx.test ready");
  Create();
  EXPECT_THAT(greeting_, ElementsAre("220 mx.test ready"));
  Ehlo();
}

TEST_F(SessionTest, SessionIdsAndCommandLines) {
  Ehlo();
  Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  Send("NOOP\r\nBAD\r\nNOOP " + std::string(2000, 'a') + "\r\nRSET\r\n");
  EXPECT_THAT(handler_.lines, ElementsAre("EHLO client.example", "MAIL FROM:<s@x.org>",
                                          "RCPT TO:<a@x.org>", "DATA", "NOOP", "BAD", "RSET"));
  ASSERT_EQ(handler_.messages.size(), 1u);
  const uint64_t first = handler_.messages[0].envelope.session_id;
  EXPECT_NE(first, 0u);
  EXPECT_EQ(session_->session_id(), first);
  for (uint64_t id : handler_.line_session_ids) EXPECT_EQ(id, first);
  Create();  // a second session
  EXPECT_NE(session_->session_id(), first);
  EXPECT_NE(session_->session_id(), 0u);
}

TEST_F(SessionTest, ContinueDataFalseDropsTheConnectionInData) {
  handler_.drop_at = 10;
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nDATA\r\nfirst\r\n"),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", StartsWith("354 ")));
  EXPECT_FALSE(closed_);
  EXPECT_THAT(Send("second line\r\n.\r\nQUIT\r\n"), IsEmpty());
  EXPECT_TRUE(closed_);
  EXPECT_TRUE(session_->closed());
  EXPECT_TRUE(handler_.messages.empty());
  EXPECT_THAT(handler_.data_progress, ElementsAre(7u, 23u));
}

TEST_F(SessionTest, ContinueDataFalseDropsTheConnectionInBdat) {
  handler_.drop_at = 5;
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<s@x.org>\r\nRCPT TO:<a@x.org>\r\nBDAT 3\r\nabc"),
              ElementsAre("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: 3 octets received"));
  // The whole last chunk in one feed: dropped all the same, before any reply.
  EXPECT_THAT(Send("BDAT 3 LAST\r\ndefNOOP\r\n"), IsEmpty());
  EXPECT_TRUE(closed_);
  EXPECT_TRUE(handler_.messages.empty());
  EXPECT_THAT(handler_.data_progress, ElementsAre(3u, 6u));
}

std::string Plain(absl::string_view user, absl::string_view password) {
  return absl::Base64Escape(
      absl::StrCat(absl::string_view("\0", 1), user, absl::string_view("\0", 1), password));
}

class AuthTest : public SessionTest {
 protected:
  void SetUp() override {
    options_.authenticate = [](absl::string_view user, absl::string_view password) {
      return user == "alice" && password == "secret";
    };
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
  options_.authenticate = [](absl::string_view, absl::string_view) { return true; };
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
  options_.authenticate = [](absl::string_view, absl::string_view) { return true; };
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

}  // namespace
}  // namespace volley::smtp
