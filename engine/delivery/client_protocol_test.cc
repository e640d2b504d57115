#include "engine/delivery/client_protocol.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

// Drives a ClientProtocol and records everything it does.
class Harness {
 public:
  Harness() {
    ClientProtocol::Callbacks cb;
    cb.write = [this](std::string bytes) { writes.push_back(std::move(bytes)); };
    cb.on_ready = [this] { ++ready; };
    cb.on_transaction_done = [this](std::vector<RecipientOutcome> o) {
      done.push_back(std::move(o));
    };
    cb.on_failed = [this](const SessionError& e, std::vector<RecipientOutcome> o) {
      failures.push_back(e);
      failed_in_flight = std::move(o);
    };
    cb.on_quit = [this] { quit = true; };
    protocol = std::make_unique<ClientProtocol>("volley.test", std::move(cb));
  }

  // Banner plus EHLO with the given keywords.
  void Establish(const std::string& keywords) {
    protocol->OnData("220 mx.test ESMTP\r\n");
    EXPECT_EQ(LastWrite(), "EHLO volley.test\r\n");
    protocol->OnData("250-mx.test\r\n" + keywords + "250 HELP\r\n");
    EXPECT_EQ(ready, 1);
  }

  std::string LastWrite() const { return writes.empty() ? "" : writes.back(); }

  static Transaction Txn(std::vector<std::string> rcpts,
                         std::string content = "Subject: x\r\n\r\nhi\r\n") {
    Transaction t;
    t.mail_from = "bounce@sender.test";
    t.recipients = std::move(rcpts);
    t.content = std::make_shared<const std::string>(std::move(content));
    return t;
  }

  std::unique_ptr<ClientProtocol> protocol;
  std::vector<std::string> writes;
  int ready = 0;
  std::vector<std::vector<RecipientOutcome>> done;
  std::vector<SessionError> failures;
  std::vector<RecipientOutcome> failed_in_flight;
  bool quit = false;
};

TEST(ClientProtocol, PipelinedTransactionGoesOutInOneWrite) {
  Harness h;
  h.Establish("250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test", "b@x.test"}));
  EXPECT_EQ(h.LastWrite(),
            "MAIL FROM:<bounce@sender.test> SIZE=18\r\nRCPT TO:<a@x.test>\r\n"
            "RCPT TO:<b@x.test>\r\nDATA\r\n");
  // Replies may arrive split anywhere.
  h.protocol->OnData("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n25");
  h.protocol->OnData("0 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(h.LastWrite(), "Subject: x\r\n\r\nhi\r\n.\r\n");
  EXPECT_EQ(h.protocol->phase(), ClientProtocol::Phase::kDataDot);
  h.protocol->OnData("250 2.0.0 Ok: queued as ABC\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  ASSERT_EQ(h.done[0].size(), 2u);
  for (const auto& o : h.done[0]) {
    EXPECT_EQ(o.reply.code, 250);
    EXPECT_EQ(o.command, ".");
    EXPECT_FALSE(o.synthetic);
  }
  EXPECT_EQ(h.done[0][0].reply.Text(), "Ok: queued as ABC");
  EXPECT_EQ(h.protocol->phase(), ClientProtocol::Phase::kIdle);
}

TEST(ClientProtocol, EachRecipientKeepsItsOwnRcptReply) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"ok@x.test", "gone@x.test", "later@x.test"}));
  h.protocol->OnData(
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <gone@x.test>: no such user\r\n"
      "451 4.3.0 try later\r\n354 go\r\n");
  h.protocol->OnData("250 2.0.0 queued\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  const auto& o = h.done[0];
  EXPECT_EQ(o[0].reply.code, 250);
  EXPECT_EQ(o[1].reply.code, 550);
  EXPECT_EQ(o[1].command, "RCPT TO:<gone@x.test>");
  ASSERT_TRUE(o[1].reply.enhanced.has_value());
  EXPECT_EQ(o[1].reply.enhanced->ToString(), "5.1.1");
  EXPECT_EQ(o[2].reply.code, 451);
}

TEST(ClientProtocol, AllRecipientsRefusedThen354SendsOnlyTheDot) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  h.protocol->OnData("250 Ok\r\n550 5.1.1 no\r\n354 go ahead anyway\r\n");
  EXPECT_EQ(h.LastWrite(), ".\r\n");
  h.protocol->OnData("554 5.5.1 no valid recipients\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 550);
  // The next transaction starts with RSET.
  h.protocol->StartTransaction(Harness::Txn({"b@x.test"}));
  EXPECT_EQ(h.LastWrite().substr(0, 6), "RSET\r\n");
}

TEST(ClientProtocol, DataRefusedFailsAcceptedRecipients) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  h.protocol->OnData("250 Ok\r\n250 Ok\r\n554 5.7.1 rejected\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 554);
  EXPECT_EQ(h.done[0][0].command, "DATA");
}

TEST(ClientProtocol, MailRefusedDecidesEveryRecipient) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test", "b@x.test"}));
  h.protocol->OnData("553 5.1.8 bad sender\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n");
  EXPECT_TRUE(h.done.empty());  // DATA's reply is still due
  h.protocol->OnData("503 5.5.1 need RCPT\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  for (const auto& o : h.done[0]) {
    EXPECT_EQ(o.reply.code, 553);
    EXPECT_EQ(o.command, "MAIL FROM:<bounce@sender.test>");
  }
}

TEST(ClientProtocol, LockStepWithoutPipelining) {
  Harness h;
  h.Establish("250-SIZE\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test", "b@x.test"}));
  EXPECT_EQ(h.LastWrite(), "MAIL FROM:<bounce@sender.test> SIZE=18\r\n");
  h.protocol->OnData("250 Ok\r\n");
  EXPECT_EQ(h.LastWrite(), "RCPT TO:<a@x.test>\r\n");
  h.protocol->OnData("550 no\r\n");
  EXPECT_EQ(h.LastWrite(), "RCPT TO:<b@x.test>\r\n");
  h.protocol->OnData("250 Ok\r\n");
  EXPECT_EQ(h.LastWrite(), "DATA\r\n");
  h.protocol->OnData("354 go\r\n");
  EXPECT_EQ(h.LastWrite(), "Subject: x\r\n\r\nhi\r\n.\r\n");
  h.protocol->OnData("250 Ok\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 550);
  EXPECT_EQ(h.done[0][1].reply.code, 250);
}

TEST(ClientProtocol, LockStepAllRefusedSkipsDataAndResets) {
  Harness h;
  h.Establish("");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  h.protocol->OnData("250 Ok\r\n");
  h.protocol->OnData("550 no\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  const size_t writes = h.writes.size();
  h.protocol->StartTransaction(Harness::Txn({"b@x.test"}));
  EXPECT_EQ(h.writes.size(), writes + 1);
  EXPECT_EQ(h.LastWrite(), "RSET\r\n");
  h.protocol->OnData("250 Ok\r\n");
  EXPECT_EQ(h.LastWrite(), "MAIL FROM:<bounce@sender.test>\r\n");
}

TEST(ClientProtocol, HeloFallbackWhenEhloIsRefused) {
  Harness h;
  h.protocol->OnData("220 old.server\r\n");
  h.protocol->OnData("502 5.5.2 command not recognized\r\n");
  EXPECT_EQ(h.LastWrite(), "HELO volley.test\r\n");
  EXPECT_EQ(h.ready, 0);
  h.protocol->OnData("250 old.server\r\n");
  EXPECT_EQ(h.ready, 1);
  EXPECT_FALSE(h.protocol->esmtp());
  EXPECT_FALSE(h.protocol->capabilities().pipelining);
}

TEST(ClientProtocol, GreetingRefused) {
  Harness h;
  h.protocol->OnData("421 4.3.2 too busy\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kGreeting);
  EXPECT_EQ(h.failures[0].reply->code, 421);
  EXPECT_TRUE(h.failed_in_flight.empty());
  EXPECT_EQ(h.protocol->phase(), ClientProtocol::Phase::kDone);
}

TEST(ClientProtocol, ServerClosingMidTransactionKeepsDecidedOutcomes) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"gone@x.test", "a@x.test"}));
  h.protocol->OnData("250 Ok\r\n550 5.1.1 unknown\r\n421 4.3.2 shutting down\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kServerClosing);
  ASSERT_EQ(h.failed_in_flight.size(), 2u);
  EXPECT_EQ(h.failed_in_flight[0].reply.code, 550);
  EXPECT_EQ(h.failed_in_flight[1].reply.code, 421);
}

TEST(ClientProtocol, MalformedReplyIsAProtocolError) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  h.protocol->OnData("2x0 what\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kProtocol);
  ASSERT_EQ(h.failed_in_flight.size(), 1u);
  EXPECT_TRUE(h.failed_in_flight[0].synthetic);
  EXPECT_TRUE(h.failed_in_flight[0].reply.IsTransient());
}

TEST(ClientProtocol, AbortDuringDataIsTransientForUndecided) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test", "b@x.test"}));
  h.protocol->OnData("250 Ok\r\n250 Ok\r\n550 no\r\n354 go\r\n");
  auto outcomes = h.protocol->Abort("connection lost after the data was sent");
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].reply.code, 451);
  EXPECT_TRUE(outcomes[0].synthetic);
  EXPECT_EQ(outcomes[0].command, ".");
  EXPECT_EQ(outcomes[1].reply.code, 550);
  EXPECT_EQ(h.protocol->phase(), ClientProtocol::Phase::kDone);
}

TEST(ClientProtocol, OversizedMessageIsRefusedWithoutSending) {
  Harness h;
  h.Establish("250-PIPELINING\r\n250-SIZE 10\r\n");
  const size_t writes = h.writes.size();
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  EXPECT_EQ(h.writes.size(), writes);
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 552);
  EXPECT_EQ(h.done[0][0].reply.enhanced->ToString(), "5.3.4");
  EXPECT_EQ(h.protocol->phase(), ClientProtocol::Phase::kIdle);
}

TEST(ClientProtocol, BodyIsDotStuffedAndEightBitFlagged) {
  Harness h;
  h.Establish("250-PIPELINING\r\n250-8BITMIME\r\n");
  Transaction t = Harness::Txn({"a@x.test"}, ".leading dot\r\ncaf\xc3\xa9\r\n");
  t.eight_bit = true;
  h.protocol->StartTransaction(std::move(t));
  EXPECT_NE(h.LastWrite().find("BODY=8BITMIME"), std::string::npos);
  h.protocol->OnData("250 Ok\r\n250 Ok\r\n354 go\r\n");
  EXPECT_EQ(h.LastWrite(), "..leading dot\r\ncaf\xc3\xa9\r\n.\r\n");
}

TEST(ClientProtocol, NextTransactionFromInsideTheCallbackAndQuit) {
  Harness h;
  ClientProtocol::Callbacks cb;
  std::vector<std::string> writes;
  int transactions = 0;
  ClientProtocol* p = nullptr;
  cb.write = [&](std::string b) { writes.push_back(std::move(b)); };
  cb.on_ready = [] {};
  cb.on_transaction_done = [&](std::vector<RecipientOutcome>) {
    if (++transactions < 2) {
      p->StartTransaction(Harness::Txn({"again@x.test"}));
    } else {
      p->Quit();
    }
  };
  cb.on_quit = [&] { writes.push_back("<quit answered>"); };
  ClientProtocol protocol("volley.test", std::move(cb));
  p = &protocol;
  protocol.OnData("220 hi\r\n250-mx\r\n250 PIPELINING\r\n");
  protocol.StartTransaction(Harness::Txn({"a@x.test"}));
  protocol.OnData("250 Ok\r\n250 Ok\r\n354 go\r\n");
  protocol.OnData("250 Ok\r\n");
  // The second transaction's commands went out in one write from inside the callback.
  EXPECT_EQ(writes.back(), "MAIL FROM:<bounce@sender.test>\r\nRCPT TO:<again@x.test>\r\nDATA\r\n");
  protocol.OnData("250 Ok\r\n250 Ok\r\n354 go\r\n250 Ok\r\n");
  // The body and the QUIT decided within one read leave in one write.
  EXPECT_EQ(writes.back(), "Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n");
  protocol.OnData("221 2.0.0 Bye\r\n");
  EXPECT_EQ(writes.back(), "<quit answered>");
  EXPECT_EQ(protocol.phase(), ClientProtocol::Phase::kDone);
  EXPECT_EQ(protocol.transactions(), 2);
}

TEST(ClientProtocol, UnsolicitedIdle421EndsTheSession) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->OnData("421 4.4.2 idle timeout\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kServerClosing);
  EXPECT_TRUE(h.failed_in_flight.empty());
}

}  // namespace
}  // namespace volley::delivery
