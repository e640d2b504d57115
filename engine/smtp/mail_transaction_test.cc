#include "engine/smtp/mail_transaction.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/command_parser.h"
#include "engine/smtp/envelope.h"
#include "engine/smtp/local_replies.h"
#include "engine/smtp/reply.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using Kind = MailTransaction::Step::Kind;
using Params = std::vector<std::pair<std::string, std::string>>;

// "<kind>" and, for the kinds that send a reply, " <reply's wire form>".
std::string Describe(const MailTransaction::Step& step) {
  switch (step.kind) {
    case Kind::kReply:
      return absl::StrCat("reply ", step.reply.ToWire());
    case Kind::kBadCommand:
      return absl::StrCat("bad ", step.reply.ToWire());
    case Kind::kMailAccepted:
      return absl::StrCat("mail-accepted ", step.reply.ToWire());
    case Kind::kGoAhead:
      return absl::StrCat("go-ahead ", step.reply.ToWire());
    case Kind::kReadChunk:
      return "read-chunk";
    case Kind::kMore:
      return "more";
    case Kind::kMessage:
      return "message";
    case Kind::kAbort:
      return "abort";
  }
  return "?";
}

// Describe's form of a step of `kind` that sends the local reply `id`.
std::string Said(absl::string_view kind, LocalReply id) {
  return absl::StrCat(kind, " ", MakeLocalReply(id).ToWire());
}

Command MakeCommand(Verb verb, std::string address, Params params = {}) {
  Command command;
  command.verb = verb;
  command.address = std::move(address);
  command.params = std::move(params);
  return command;
}

class MailTransactionTest : public ::testing::Test {
 protected:
  MailTransactionTest() {
    envelope_.helo = "client.example";
    envelope_.esmtp = true;
    envelope_.auth_user = "alice";
    Create(1000, 100);
  }

  void Create(uint64_t max_message_size, int max_recipients) {
    limits_.max_message_size = max_message_size;
    limits_.max_recipients = max_recipients;
    transaction_.emplace(limits_, &envelope_);
  }

  MailTransaction& tx() { return *transaction_; }

  std::string Mail(std::string address, Params params = {}, bool needs_auth = false) {
    return Describe(tx().Mail(MakeCommand(Verb::kMail, std::move(address), std::move(params)),
                              needs_auth, [this](const Envelope& envelope) {
                                senders_checked_.push_back(
                                    absl::StrCat(envelope.mail_from,
                                                 envelope.smtputf8_requested ? " SMTPUTF8" : ""));
                                std::optional<Reply> refusal;
                                if (envelope.mail_from == "blocked@x.org") {
                                  refusal = MakeReply(550, "5.7.1", "sender blocked");
                                }
                                return refusal;
                              }));
  }

  std::string Rcpt(std::string address, Params params = {}) {
    return Describe(tx().Rcpt(MakeCommand(Verb::kRcpt, std::move(address), std::move(params)),
                              [this](const Envelope& envelope, absl::string_view recipient) {
                                recipients_at_check_.push_back(envelope.recipients.size());
                                std::optional<Reply> refusal;
                                if (recipient == "relay@x.org") {
                                  refusal = MakeReply(550, "5.7.1", "relay denied");
                                }
                                return refusal;
                              }));
  }

  std::string Feed(absl::string_view* input) {
    return Describe(tx().Feed(input, [this](const Envelope& envelope, size_t bytes_so_far) {
      EXPECT_FALSE(envelope.recipients.empty());
      progress_.push_back(bytes_so_far);
      return abort_at_ == 0 || bytes_so_far < abort_at_;
    }));
  }

  std::string Feed(absl::string_view input, std::string* rest = nullptr) {
    std::string result = Feed(&input);
    if (rest != nullptr) *rest = std::string(input);
    return result;
  }

  Envelope envelope_;
  MailTransaction::Limits limits_;
  std::optional<MailTransaction> transaction_;  // optional, so that Create can make another
  std::vector<std::string> senders_checked_;
  std::vector<size_t> recipients_at_check_;
  std::vector<size_t> progress_;
  size_t abort_at_ = 0;  // ContinueData refuses from this many octets on (0: never)
};

TEST_F(MailTransactionTest, MailRcptDataAndTheMessage) {
  EXPECT_FALSE(tx().active());
  EXPECT_EQ(Mail("s@x.org", {{"SIZE", "10"}, {"BODY", "8BITMIME"}}),
            Said("mail-accepted", LocalReply::kSenderOk));
  EXPECT_TRUE(tx().active());
  EXPECT_EQ(envelope_.mail_from, "s@x.org");
  EXPECT_EQ(envelope_.mail_params, (Params{{"SIZE", "10"}, {"BODY", "8BITMIME"}}));
  EXPECT_EQ(Rcpt("a@x.org", {{"NOTIFY", "NEVER"}}), Said("reply", LocalReply::kRecipientOk));
  EXPECT_EQ(Rcpt("b@x.org"), Said("reply", LocalReply::kRecipientOk));
  EXPECT_THAT(recipients_at_check_, ElementsAre(0u, 1u));
  EXPECT_THAT(envelope_.recipients, ElementsAre("a@x.org", "b@x.org"));
  EXPECT_EQ(envelope_.recipient_params, (std::vector<Params>{{{"NOTIFY", "NEVER"}}, {}}));

  EXPECT_EQ(Describe(tx().Data()), Said("go-ahead", LocalReply::kDataGoAhead));
  EXPECT_EQ(Feed("Subject: x\r\n"), "more");
  std::string rest;
  EXPECT_EQ(Feed("\r\n..body\r\n.\r\nQUIT\r\n", &rest), "message");
  EXPECT_EQ(rest, "QUIT\r\n");
  EXPECT_THAT(progress_, ElementsAre(12u, 25u));
  EXPECT_FALSE(envelope_.bdat);
  EXPECT_EQ(tx().TakeMessage(), "Subject: x\r\n\r\n.body\r\n");
  // The transaction is over; what the session knows of the client is not touched.
  EXPECT_FALSE(tx().active());
  EXPECT_EQ(envelope_.mail_from, "");
  EXPECT_THAT(envelope_.mail_params, IsEmpty());
  EXPECT_THAT(envelope_.recipients, IsEmpty());
  EXPECT_THAT(envelope_.recipient_params, IsEmpty());
  EXPECT_EQ(envelope_.helo, "client.example");
  EXPECT_EQ(envelope_.auth_user, "alice");
}

TEST_F(MailTransactionTest, SequenceErrorsAreTheClients) {
  EXPECT_EQ(Rcpt("a@x.org"), Said("bad", LocalReply::kNeedMail));
  EXPECT_EQ(Describe(tx().Data()), Said("bad", LocalReply::kNeedMail));
  // A refused chunk is still read, then refused.
  EXPECT_EQ(Describe(tx().Bdat("3")), "read-chunk");
  EXPECT_EQ(Feed("abc"), Said("bad", LocalReply::kNeedMail));
  EXPECT_THAT(progress_, IsEmpty());
  EXPECT_EQ(Mail("s@x.org"), Said("mail-accepted", LocalReply::kSenderOk));
  EXPECT_EQ(Mail("t@x.org"), Said("bad", LocalReply::kNestedMail));
  EXPECT_EQ(envelope_.mail_from, "s@x.org");  // the first MAIL stands
  EXPECT_EQ(Describe(tx().Data()), Said("bad", LocalReply::kNeedRcpt));
  EXPECT_EQ(Describe(tx().Bdat("1 LAST")), "read-chunk");
  EXPECT_EQ(Feed("x"), Said("bad", LocalReply::kNeedRcpt));
  EXPECT_TRUE(tx().active());
  EXPECT_EQ(Describe(tx().Bdat("x")), Said("bad", LocalReply::kBdatSyntax));
}

TEST_F(MailTransactionTest, CommandsBehindAMailWeRefusedAreNotTheClientsErrors) {
  EXPECT_THAT(Mail("blocked@x.org"), StartsWith("reply 550 5.7.1 sender blocked"));
  EXPECT_FALSE(tx().active());
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kNeedMail));
  EXPECT_EQ(Describe(tx().Data()), Said("reply", LocalReply::kNeedMail));
  EXPECT_EQ(Describe(tx().Bdat("2 LAST")), "read-chunk");
  EXPECT_EQ(Feed("ab"), Said("reply", LocalReply::kNeedMail));
  // RSET ends that.
  tx().Reset();
  EXPECT_EQ(Rcpt("a@x.org"), Said("bad", LocalReply::kNeedMail));

  // The same after a 530 and after SIZE over the limit.
  EXPECT_EQ(Mail("s@x.org", {}, /*needs_auth=*/true), Said("reply", LocalReply::kAuthRequired));
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kNeedMail));
  EXPECT_EQ(Mail("s@x.org", {{"SIZE", "1001"}}), Said("reply", LocalReply::kMessageTooBig));
  EXPECT_FALSE(tx().active());
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kNeedMail));
  // Neither reached the handler.
  EXPECT_THAT(senders_checked_, ElementsAre("blocked@x.org"));
}

TEST_F(MailTransactionTest, AMailRefusedForAParameterEndsTheRefusedState) {
  EXPECT_THAT(Mail("blocked@x.org"), StartsWith("reply 550 "));
  EXPECT_EQ(
      Mail("s@x.org", {{"FROB", ""}}),
      absl::StrCat("bad ", MakeLocalReply(LocalReply::kUnsupportedParameter, "FROB").ToWire()));
  EXPECT_EQ(Rcpt("a@x.org"), Said("bad", LocalReply::kNeedMail));
  // A refusal of the parameter list as a whole (a repeat, parameters after HELO) comes before
  // that, and leaves the state as it was, as the session always did.
  EXPECT_THAT(Mail("blocked@x.org"), StartsWith("reply 550 "));
  EXPECT_EQ(Mail("s@x.org", {{"SIZE", "1"}, {"SIZE", "1"}}),
            Said("bad", LocalReply::kRepeatedParameter));
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kNeedMail));
}

TEST_F(MailTransactionTest, ParametersNeedEhlo) {
  envelope_.esmtp = false;
  EXPECT_EQ(Mail("s@x.org", {{"SIZE", "10"}}), Said("bad", LocalReply::kParametersNeedEhlo));
  EXPECT_EQ(Mail("s@x.org"), Said("mail-accepted", LocalReply::kSenderOk));
  EXPECT_EQ(Rcpt("a@x.org", {{"NOTIFY", "NEVER"}}), Said("bad", LocalReply::kParametersNeedEhlo));
  EXPECT_THAT(envelope_.recipients, IsEmpty());
  EXPECT_THAT(recipients_at_check_, IsEmpty());
}

TEST_F(MailTransactionTest, MailParametersReachTheEnvelopeBeforeTheSenderCheck) {
  EXPECT_EQ(Mail("s@x.org", {{"SMTPUTF8", ""}}), Said("mail-accepted", LocalReply::kSenderOk));
  EXPECT_TRUE(envelope_.smtputf8_requested);
  tx().Reset();
  EXPECT_FALSE(envelope_.smtputf8_requested);
  // A refused parameter leaves nothing behind.
  EXPECT_EQ(Mail("s@x.org", {{"SMTPUTF8", ""}, {"BODY", "FOO"}}),
            Said("bad", LocalReply::kBadBodyParameter));
  EXPECT_FALSE(envelope_.smtputf8_requested);
  EXPECT_EQ(envelope_.mail_from, "");
  // Neither does a sender the handler refused.
  EXPECT_THAT(Mail("blocked@x.org", {{"SMTPUTF8", ""}}), StartsWith("reply 550 "));
  EXPECT_FALSE(envelope_.smtputf8_requested);
  EXPECT_EQ(envelope_.mail_from, "");
  EXPECT_THAT(envelope_.mail_params, IsEmpty());
  // The handler saw the parameters' effects.
  EXPECT_THAT(senders_checked_, ElementsAre("s@x.org SMTPUTF8", "blocked@x.org SMTPUTF8"));
  // Exactly the limit is fine.
  EXPECT_EQ(Mail("s@x.org", {{"SIZE", "1000"}}), Said("mail-accepted", LocalReply::kSenderOk));
}

TEST_F(MailTransactionTest, RecipientLimitAndRefusals) {
  Create(1000, 2);
  Mail("s@x.org");
  EXPECT_THAT(Rcpt("relay@x.org"), StartsWith("reply 550 5.7.1 relay denied"));
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kRecipientOk));
  EXPECT_EQ(Rcpt("b@x.org"), Said("reply", LocalReply::kRecipientOk));
  EXPECT_EQ(Rcpt("c@x.org"), Said("reply", LocalReply::kTooManyRecipients));
  // The handler is not asked about a recipient beyond the limit.
  EXPECT_THAT(recipients_at_check_, ElementsAre(0u, 0u, 1u));
  EXPECT_THAT(envelope_.recipients, ElementsAre("a@x.org", "b@x.org"));
  EXPECT_EQ(
      Rcpt("d@x.org", {{"FROB", "1"}}),
      absl::StrCat("bad ", MakeLocalReply(LocalReply::kUnsupportedParameter, "FROB").ToWire()));
}

TEST_F(MailTransactionTest, DataWhenEveryRecipientWasRefused) {
  Mail("s@x.org");
  Rcpt("relay@x.org");
  EXPECT_EQ(Describe(tx().Data()), Said("reply", LocalReply::kNoValidRecipients));
  // The transaction goes on: a good recipient and DATA.
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kRecipientOk));
  EXPECT_EQ(Describe(tx().Data()), Said("go-ahead", LocalReply::kDataGoAhead));
}

TEST_F(MailTransactionTest, DataOverTheLimitGets552AfterItsEnd) {
  Create(10, 100);
  Mail("s@x.org");
  Rcpt("a@x.org");
  tx().Data();
  std::string rest;
  EXPECT_EQ(Feed("0123456789abc\r\n.\r\nNOOP\r\n", &rest),
            Said("reply", LocalReply::kMessageTooBig));
  EXPECT_EQ(rest, "NOOP\r\n");
  EXPECT_FALSE(tx().active());
  EXPECT_THAT(envelope_.recipients, IsEmpty());
}

TEST_F(MailTransactionTest, TheMemoryBudgetRefusesAtMailAtDataAndMidContent) {
  MemoryBudget budget(100 * 1024);
  limits_.memory = &budget;
  Create(1000 * 1000, 100);
  // MAIL needs room for what it announces, or 64 KiB.
  EXPECT_EQ(Mail("s@x.org", {{"SIZE", "200000"}}), Said("reply", LocalReply::kMemoryFull));
  EXPECT_FALSE(tx().active());
  // Pipelined RCPT and DATA behind it are not the client's errors.
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kNeedMail));
  // A message that grows beyond the budget: refused at its end, and nothing is held after.
  EXPECT_EQ(Mail("s@x.org"), Said("mail-accepted", LocalReply::kSenderOk));
  Rcpt("a@x.org");
  tx().Data();
  const std::string line(998, 'x');
  std::string body;
  for (int i = 0; i < 150; ++i) body += line + "\r\n";
  EXPECT_EQ(Feed(body), "more");
  EXPECT_EQ(budget.used(), 0u);  // refused: what it held went back at once
  std::string rest;
  EXPECT_EQ(Feed(".\r\nNOOP\r\n", &rest), Said("reply", LocalReply::kMemoryFull));
  EXPECT_EQ(rest, "NOOP\r\n");
  EXPECT_FALSE(tx().active());
  // A message that fits is charged while it is held, and the charge follows it out.
  Mail("s@x.org", {{"SIZE", "5000"}});
  Rcpt("a@x.org");
  tx().Data();
  EXPECT_GE(budget.used(), 5000u);
  EXPECT_EQ(Feed("Subject: small\r\n\r\nhi\r\n.\r\n"), "message");
  MemoryCharge charge;
  EXPECT_EQ(tx().TakeMessage(&charge), "Subject: small\r\n\r\nhi\r\n");
  EXPECT_GE(charge.bytes(), 5000u);
  EXPECT_EQ(budget.used(), charge.bytes());
  charge.Release();
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(MailTransactionTest, StrictAddressesAreCheckedAtMailAndRcpt) {
  limits_.strict_addresses = true;
  Create(1000, 100);
  EXPECT_EQ(Mail("s@localhost").substr(0, 15), "reply 501 5.1.2");
  EXPECT_EQ(Mail("s@x.org"), Said("mail-accepted", LocalReply::kSenderOk));
  EXPECT_EQ(Rcpt("\xC3\xA4@x.org").substr(0, 15), "reply 553 5.6.7");  // without SMTPUTF8
  tx().Reset();
  EXPECT_EQ(Mail("s@x.org", {{"SMTPUTF8", ""}}), Said("mail-accepted", LocalReply::kSenderOk));
  EXPECT_EQ(Rcpt("a\xE2\x80\x8B@x.org").substr(0, 15), "reply 553 5.1.3");
  EXPECT_EQ(Rcpt("\xC3\xA4@x.org"), Said("reply", LocalReply::kRecipientOk));
  EXPECT_EQ(Rcpt("a@x.org"), Said("reply", LocalReply::kRecipientOk));
  EXPECT_THAT(envelope_.recipients, ElementsAre("\xC3\xA4@x.org", "a@x.org"));
}

TEST_F(MailTransactionTest, BdatChunks) {
  Mail("s@x.org");
  Rcpt("a@x.org");
  EXPECT_EQ(Describe(tx().Bdat("4")), "read-chunk");
  EXPECT_TRUE(envelope_.bdat);
  EXPECT_EQ(Feed("a."), "more");
  std::string rest;
  EXPECT_EQ(Feed("\r\nNOOP\r\n", &rest),
            absl::StrCat("reply ", MakeLocalReply(LocalReply::kChunkOk, 4).ToWire()));
  EXPECT_EQ(rest, "NOOP\r\n");
  // DATA cannot follow.
  EXPECT_EQ(Describe(tx().Data()), Said("bad", LocalReply::kDataAfterBdat));
  // An empty chunk is answered at once.
  EXPECT_EQ(Describe(tx().Bdat("0")),
            absl::StrCat("reply ", MakeLocalReply(LocalReply::kChunkOk, 0).ToWire()));
  EXPECT_EQ(Describe(tx().Bdat("0 LAST")), "message");
  EXPECT_THAT(progress_, ElementsAre(2u, 4u));
  EXPECT_EQ(tx().TakeMessage(), "a.\r\n");
  EXPECT_FALSE(tx().active());
  EXPECT_FALSE(envelope_.bdat);
}

TEST_F(MailTransactionTest, BdatBeyondTheLimitEndsTheTransaction) {
  Create(10, 100);
  Mail("s@x.org");
  Rcpt("a@x.org");
  tx().Bdat("6");
  EXPECT_EQ(Feed("123456"),
            absl::StrCat("reply ", MakeLocalReply(LocalReply::kChunkOk, 6).ToWire()));
  EXPECT_EQ(Describe(tx().Bdat("5 LAST")), "read-chunk");
  EXPECT_EQ(Feed("7890a"), Said("reply", LocalReply::kMessageTooBig));
  // The refused chunk was not counted as the message's.
  EXPECT_THAT(progress_, ElementsAre(6u));
  EXPECT_FALSE(tx().active());
  // A new transaction starts from nothing.
  Mail("s@x.org");
  Rcpt("a@x.org");
  EXPECT_EQ(Describe(tx().Bdat("10 LAST")), "read-chunk");
  EXPECT_EQ(Feed("1234567890"), "message");
  EXPECT_EQ(tx().TakeMessage(), "1234567890");
}

TEST_F(MailTransactionTest, AbandonDropsTheContentHeld) {
  Create(10, 100);
  Mail("s@x.org");
  Rcpt("a@x.org");
  tx().Bdat("6");
  Feed("123456");
  tx().Abandon();
  EXPECT_FALSE(tx().active());
  Mail("s@x.org");
  Rcpt("a@x.org");
  EXPECT_EQ(Describe(tx().Bdat("6 LAST")), "read-chunk");
  EXPECT_EQ(Feed("abcdef"), "message");
  EXPECT_EQ(tx().TakeMessage(), "abcdef");
}

TEST_F(MailTransactionTest, ContinueDataFalseAborts) {
  abort_at_ = 5;
  Mail("s@x.org");
  Rcpt("a@x.org");
  tx().Data();
  EXPECT_EQ(Feed("abc"), "more");
  EXPECT_EQ(Feed("def\r\n.\r\n"), "abort");
  EXPECT_THAT(progress_, ElementsAre(3u, 11u));
}

}  // namespace
}  // namespace volley::smtp
