#include "engine/smtp/client_session.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

// Drives a ClientSession and records everything it does.
class Harness {
 public:
  explicit Harness(ProtocolOptions options = Options()) {
    ClientSession::Callbacks cb;
    cb.on_starttls = [this] { ++starttls; };
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
    protocol = std::make_unique<ClientSession>(options, std::move(cb));
  }

  static ProtocolOptions Options() {
    ProtocolOptions options;
    options.ehlo_name = "volley.test";
    return options;
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
    for (std::string& r : rcpts) t.recipients.push_back(TransactionRecipient{std::move(r)});
    t.content = std::make_shared<const std::string>(std::move(content));
    return t;
  }

  std::unique_ptr<ClientSession> protocol;
  std::vector<std::string> writes;
  int ready = 0;
  int starttls = 0;
  std::vector<std::vector<RecipientOutcome>> done;
  std::vector<SessionError> failures;
  std::vector<RecipientOutcome> failed_in_flight;
  bool quit = false;
};

TEST(ClientSession, PipelinedTransactionGoesOutInOneWrite) {
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
  EXPECT_EQ(h.protocol->phase(), ClientSession::Phase::kDataDot);
  h.protocol->OnData("250 2.0.0 Ok: queued as ABC\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  ASSERT_EQ(h.done[0].size(), 2u);
  for (const auto& o : h.done[0]) {
    EXPECT_EQ(o.reply.code, 250);
    EXPECT_EQ(o.command, ".");
    EXPECT_FALSE(o.synthetic);
  }
  EXPECT_EQ(h.done[0][0].reply.Text(), "Ok: queued as ABC");
  EXPECT_EQ(h.protocol->phase(), ClientSession::Phase::kIdle);
}

TEST(ClientSession, EachRecipientKeepsItsOwnRcptReply) {
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

TEST(ClientSession, AllRecipientsRefusedThen354SendsOnlyTheDot) {
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

TEST(ClientSession, DataRefusedFailsAcceptedRecipients) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  h.protocol->OnData("250 Ok\r\n250 Ok\r\n554 5.7.1 rejected\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 554);
  EXPECT_EQ(h.done[0][0].command, "DATA");
}

TEST(ClientSession, MailRefusedDecidesEveryRecipient) {
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

TEST(ClientSession, LockStepWithoutPipelining) {
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

TEST(ClientSession, LockStepAllRefusedSkipsDataAndResets) {
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

TEST(ClientSession, HeloFallbackWhenEhloIsRefused) {
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

TEST(ClientSession, GreetingRefused) {
  Harness h;
  h.protocol->OnData("421 4.3.2 too busy\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kGreeting);
  EXPECT_EQ(h.failures[0].reply->code, 421);
  EXPECT_TRUE(h.failed_in_flight.empty());
  EXPECT_EQ(h.protocol->phase(), ClientSession::Phase::kDone);
}

TEST(ClientSession, ServerClosingMidTransactionKeepsDecidedOutcomes) {
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

TEST(ClientSession, MalformedReplyIsAProtocolError) {
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

TEST(ClientSession, AbortDuringDataIsTransientForUndecided) {
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
  EXPECT_EQ(h.protocol->phase(), ClientSession::Phase::kDone);
}

TEST(ClientSession, OversizedMessageIsRefusedWithoutSending) {
  Harness h;
  h.Establish("250-PIPELINING\r\n250-SIZE 10\r\n");
  const size_t writes = h.writes.size();
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  EXPECT_EQ(h.writes.size(), writes);
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 552);
  EXPECT_EQ(h.done[0][0].reply.enhanced->ToString(), "5.3.4");
  EXPECT_EQ(h.protocol->phase(), ClientSession::Phase::kIdle);
}

TEST(ClientSession, BodyIsDotStuffedAndEightBitFlagged) {
  Harness h;
  h.Establish("250-PIPELINING\r\n250-8BITMIME\r\n");
  Transaction t = Harness::Txn({"a@x.test"}, ".leading dot\r\ncaf\xc3\xa9\r\n");
  t.eight_bit = true;
  h.protocol->StartTransaction(std::move(t));
  EXPECT_NE(h.LastWrite().find("BODY=8BITMIME"), std::string::npos);
  h.protocol->OnData("250 Ok\r\n250 Ok\r\n354 go\r\n");
  EXPECT_EQ(h.LastWrite(), "..leading dot\r\ncaf\xc3\xa9\r\n.\r\n");
}

TEST(ClientSession, NextTransactionFromInsideTheCallbackAndQuit) {
  Harness h;
  ClientSession::Callbacks cb;
  std::vector<std::string> writes;
  int transactions = 0;
  ClientSession* p = nullptr;
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
  ProtocolOptions options;
  options.ehlo_name = "volley.test";
  ClientSession protocol(options, std::move(cb));
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
  EXPECT_EQ(protocol.phase(), ClientSession::Phase::kDone);
  EXPECT_EQ(protocol.transactions(), 2);
}

TEST(ClientSession, UnsolicitedIdle421EndsTheSession) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->OnData("421 4.4.2 idle timeout\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kServerClosing);
  EXPECT_TRUE(h.failed_in_flight.empty());
}

}  // namespace
}  // namespace volley::smtp

namespace volley::smtp {
namespace {

TEST(ClientSessionTls, StartTlsThenEhloAgain) {
  ProtocolOptions options = Harness::Options();
  options.starttls = true;
  Harness h(options);
  h.protocol->OnData("220 mx.test ESMTP\r\n");
  // The 220 to STARTTLS and anything after it in the same read: only the 220 counts.
  h.protocol->OnData("250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
  EXPECT_EQ(h.LastWrite(), "STARTTLS\r\n");
  EXPECT_EQ(h.ready, 0);
  h.protocol->OnData("220 2.0.0 Ready to start TLS\r\n250 injected\r\n");
  EXPECT_EQ(h.starttls, 1);
  EXPECT_EQ(h.protocol->phase(), ClientSession::Phase::kTlsHandshake);
  EXPECT_TRUE(h.failures.empty());
  h.protocol->OnTlsEstablished();
  EXPECT_EQ(h.LastWrite(), "EHLO volley.test\r\n");
  EXPECT_FALSE(h.protocol->capabilities().pipelining) << "capabilities are forgotten";
  h.protocol->OnData("250-mx.test\r\n250 PIPELINING\r\n");
  EXPECT_EQ(h.ready, 1);
  EXPECT_TRUE(h.protocol->tls_active());
  EXPECT_TRUE(h.protocol->capabilities().pipelining);
}

TEST(ClientSessionTls, RequiredButNotOffered) {
  ProtocolOptions options = Harness::Options();
  options.starttls = true;
  options.tls_required = true;
  Harness h(options);
  h.protocol->OnData("220 mx.test ESMTP\r\n250-mx.test\r\n250 PIPELINING\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kTls);
  EXPECT_EQ(h.ready, 0);
}

TEST(ClientSessionTls, RefusedStartTls) {
  for (bool required : {false, true}) {
    ProtocolOptions options = Harness::Options();
    options.starttls = true;
    options.tls_required = required;
    Harness h(options);
    h.protocol->OnData("220 mx.test ESMTP\r\n250-mx.test\r\n250 STARTTLS\r\n");
    h.protocol->OnData("454 4.7.0 TLS not available\r\n");
    if (required) {
      ASSERT_EQ(h.failures.size(), 1u);
      EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kTls);
      EXPECT_EQ(h.failures[0].reply->code, 454);
    } else {
      // Opportunistic: go on without TLS.
      EXPECT_TRUE(h.failures.empty());
      EXPECT_EQ(h.ready, 1);
      EXPECT_FALSE(h.protocol->tls_active());
    }
  }
}

TEST(ClientSessionAuth, PlainOverImplicitTls) {
  ProtocolOptions options = Harness::Options();
  options.tls_active = true;
  options.auth_user = "u";
  options.auth_password = "p";
  Harness h(options);
  h.protocol->OnData("220 smart.test ESMTP\r\n");
  h.protocol->OnData("250-smart.test\r\n250 AUTH LOGIN PLAIN\r\n");
  EXPECT_EQ(h.LastWrite(), "AUTH PLAIN AHUAcA==\r\n");
  EXPECT_EQ(h.ready, 0);
  h.protocol->OnData("235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(h.ready, 1);
  EXPECT_TRUE(h.protocol->authenticated());
}

TEST(ClientSessionAuth, LoginWhenPlainIsNotOffered) {
  ProtocolOptions options = Harness::Options();
  options.tls_active = true;
  options.auth_user = "user";
  options.auth_password = "secret";
  Harness h(options);
  h.protocol->OnData("220 smart.test\r\n");
  h.protocol->OnData("250-smart.test\r\n250 AUTH LOGIN\r\n");
  EXPECT_EQ(h.LastWrite(), "AUTH LOGIN\r\n");
  h.protocol->OnData("334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(h.LastWrite(), "dXNlcg==\r\n");
  h.protocol->OnData("334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.LastWrite(), "c2VjcmV0\r\n");
  h.protocol->OnData("235 2.7.0 ok\r\n");
  EXPECT_EQ(h.ready, 1);
}

TEST(ClientSessionAuth, BadCredentialsAndNoMechanism) {
  ProtocolOptions options = Harness::Options();
  options.tls_active = true;
  options.auth_user = "u";
  options.auth_password = "wrong";
  Harness refused(options);
  refused.protocol->OnData("220 s\r\n250-s\r\n250 AUTH PLAIN\r\n");
  refused.protocol->OnData("535 5.7.8 Authentication credentials invalid\r\n");
  ASSERT_EQ(refused.failures.size(), 1u);
  EXPECT_EQ(refused.failures[0].kind, SessionError::Kind::kAuth);
  EXPECT_EQ(refused.failures[0].reply->code, 535);

  Harness none(options);
  none.protocol->OnData("220 s\r\n250-s\r\n250 AUTH CRAM-MD5\r\n");
  ASSERT_EQ(none.failures.size(), 1u);
  EXPECT_EQ(none.failures[0].kind, SessionError::Kind::kAuth);
}

TEST(ClientSessionAuth, NoCredentialsOverPlaintextUnlessAllowed) {
  ProtocolOptions options = Harness::Options();
  options.auth_user = "u";
  options.auth_password = "p";
  Harness h(options);
  h.protocol->OnData("220 s\r\n250-s\r\n250 AUTH PLAIN\r\n");
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, SessionError::Kind::kAuth);
  for (const std::string& w : h.writes) EXPECT_EQ(w.find("AUTH"), std::string::npos) << w;

  options.allow_auth_without_tls = true;
  Harness allowed(options);
  allowed.protocol->OnData("220 s\r\n");
  allowed.protocol->OnData("250-s\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(allowed.LastWrite(), "AUTH PLAIN AHUAcA==\r\n");
}

TEST(ClientSessionExtensions, BdatAfterTheRcptReplies) {
  Harness h;
  h.Establish("250-PIPELINING\r\n250-CHUNKING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test", "b@x.test"}, ".dot\r\n"));
  EXPECT_EQ(h.LastWrite(),
            "MAIL FROM:<bounce@sender.test>\r\nRCPT TO:<a@x.test>\r\n"
            "RCPT TO:<b@x.test>\r\n");
  h.protocol->OnData("250 Ok\r\n250 Ok\r\n");
  EXPECT_EQ(h.protocol->phase(), ClientSession::Phase::kRcpt);
  h.protocol->OnData("550 5.1.1 no\r\n");
  // No dot-stuffing with BDAT.
  EXPECT_EQ(h.LastWrite(), "BDAT 6 LAST\r\n.dot\r\n");
  h.protocol->OnData("250 2.0.0 Ok\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 250);
  EXPECT_EQ(h.done[0][0].command, "BDAT");
  EXPECT_EQ(h.done[0][1].reply.code, 550);
}

TEST(ClientSessionExtensions, BdatLockStepAndNothingAccepted) {
  Harness h;
  h.Establish("250-CHUNKING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  h.protocol->OnData("250 Ok\r\n");
  h.protocol->OnData("550 no\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  for (const std::string& w : h.writes) EXPECT_EQ(w.find("BDAT"), std::string::npos) << w;
}

TEST(ClientSessionExtensions, DsnParametersOnlyWhenOffered) {
  Transaction t = Harness::Txn({"a@x.test"});
  t.dsn_ret = "HDRS";
  t.dsn_envid = "QQ314159";
  t.recipients[0].dsn_notify = "SUCCESS,FAILURE";
  t.recipients[0].dsn_orcpt = "rfc822;a@x.test";
  Harness with;
  with.Establish("250-PIPELINING\r\n250-DSN\r\n");
  with.protocol->StartTransaction(t);
  EXPECT_EQ(with.LastWrite(),
            "MAIL FROM:<bounce@sender.test> RET=HDRS ENVID=QQ314159\r\n"
            "RCPT TO:<a@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@x.test\r\nDATA\r\n");
  Harness without;
  without.Establish("250-PIPELINING\r\n");
  without.protocol->StartTransaction(t);
  EXPECT_EQ(without.LastWrite(),
            "MAIL FROM:<bounce@sender.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n");
}

TEST(ClientSessionExtensions, SmtpUtf8) {
  Harness with;
  with.Establish("250-PIPELINING\r\n250-SMTPUTF8\r\n");
  with.protocol->StartTransaction(Harness::Txn({"j\xc3\xb8rn@x.test"}));
  EXPECT_EQ(with.LastWrite().substr(0, 46), "MAIL FROM:<bounce@sender.test> SMTPUTF8\r\nRCPT ");

  Harness without;
  without.Establish("250-PIPELINING\r\n");
  const size_t writes = without.writes.size();
  without.protocol->StartTransaction(Harness::Txn({"j\xc3\xb8rn@x.test"}));
  EXPECT_EQ(without.writes.size(), writes) << "nothing is sent";
  ASSERT_EQ(without.done.size(), 1u);
  EXPECT_EQ(without.done[0][0].reply.code, 553);
  EXPECT_EQ(without.done[0][0].reply.enhanced->ToString(), "5.6.7");

  // A message injected with SMTPUTF8 needs it even with ASCII addresses.
  Harness flagged;
  flagged.Establish("250-PIPELINING\r\n");
  Transaction t = Harness::Txn({"a@x.test"});
  t.smtputf8 = true;
  flagged.protocol->StartTransaction(t);
  ASSERT_EQ(flagged.done.size(), 1u);
  EXPECT_EQ(flagged.done[0][0].reply.code, 553);
}

TEST(ClientSessionExtensions, EightBitIsConvertedForServersWithout8BitMime) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  Transaction t = Harness::Txn({"a@x.test"}, "Subject: x\r\n\r\ncaf\xc3\xa9\r\n");
  t.eight_bit = true;
  h.protocol->StartTransaction(t);
  EXPECT_EQ(h.LastWrite().find("BODY=8BITMIME"), std::string::npos);
  h.protocol->OnData("250 Ok\r\n250 Ok\r\n354 go\r\n");
  const std::string body = h.LastWrite();
  EXPECT_NE(body.find("Content-Transfer-Encoding: quoted-printable\r\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("caf=C3=A9"), std::string::npos) << body;
  for (char c : body) ASSERT_LT(static_cast<unsigned char>(c), 0x80) << body;
}

TEST(ClientSessionExtensions, UnconvertibleEightBitBounces) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  Transaction t = Harness::Txn({"a@x.test"}, "Subject: caf\xc3\xa9\r\n\r\nbody\r\n");
  t.eight_bit = true;
  h.protocol->StartTransaction(t);
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 554);
  EXPECT_EQ(h.done[0][0].reply.enhanced->ToString(), "5.6.3");
}

TEST(ClientSessionExtensions, TooManyRecipientsDefersTheRest) {
  Harness h;
  h.Establish("250-PIPELINING\r\n");
  h.protocol->StartTransaction(Harness::Txn({"a@x.test", "b@x.test", "c@x.test"}));
  h.protocol->OnData(
      "250 Ok\r\n250 Ok\r\n452 4.5.3 Too many recipients\r\n452 4.5.3 Too many recipients\r\n"
      "354 go\r\n250 Ok\r\n");
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(h.done[0][0].reply.code, 250);
  EXPECT_FALSE(h.done[0][0].deferred);
  EXPECT_TRUE(h.done[0][1].deferred);
  EXPECT_TRUE(h.done[0][2].deferred);

  // With nobody accepted, 452 is an ordinary temporary failure.
  Harness none;
  none.Establish("250-PIPELINING\r\n");
  none.protocol->StartTransaction(Harness::Txn({"a@x.test"}));
  none.protocol->OnData("250 Ok\r\n452 4.5.3 Too many recipients\r\n554 no valid rcpt\r\n");
  ASSERT_EQ(none.done.size(), 1u);
  EXPECT_FALSE(none.done[0][0].deferred);
  EXPECT_EQ(none.done[0][0].reply.code, 452);
}

}  // namespace
}  // namespace volley::smtp
