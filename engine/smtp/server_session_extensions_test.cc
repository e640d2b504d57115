// ServerSession: ESMTP parameters, DSN, CHUNKING (BDAT), configured greetings and the handler
// hooks.
#include <string>
#include <utility>
#include <vector>

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
using ::testing::IsEmpty;
using ::testing::StartsWith;

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

}  // namespace
}  // namespace volley::smtp
