// ServerSession: the greeting, EHLO, transactions, pipelining and replies held by the handler.
#include <string>
#include <utility>
#include <vector>

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

TEST_F(SessionTest, AHandlers421AtMailEndsTheSession) {
  Ehlo();
  // The pipelined RCPT and DATA behind the MAIL are never answered.
  EXPECT_THAT(Send("MAIL FROM:<closing@example.com>\r\nRCPT TO:<a@x.org>\r\nDATA\r\n"),
              ElementsAre("421 4.7.0 too many messages on this connection"));
  EXPECT_TRUE(closed_);
  EXPECT_TRUE(session_->closed());
  // Other refusals at MAIL leave the session open.
  Create();
  Ehlo();
  EXPECT_THAT(Send("MAIL FROM:<blocked@example.com>\r\n"), ElementsAre("550 5.7.1 sender blocked"));
  EXPECT_FALSE(session_->closed());
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
