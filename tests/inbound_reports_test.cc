// VERP and the bounce domain end to end: return paths per recipient on the wire, then reports
// sent to the bounce domain over SMTP, as a receiving site would send them later: an
// asynchronous DSN, an ARF complaint, a forged VERP address and unreadable mail. Each is
// answered 250, logged (OOB, Feedback) against the original queue id, never relayed, and the
// genuine ones put their recipient on the suppression list.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/bounce/testdata/inbound_sample.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/relay_world.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using nlohmann::json;

constexpr char kBounceDomain[] = "bounces.volley.test";

class InboundReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::RelayOptions options;
    options.name = "inbound_reports";
    options.domains = {"dsn.test", "sender.test"};
    options.sink.record = true;
    // A second listener with the bounce role: reports only.
    options.config =
        absl::StrCat("[bounce]\nverp_domain = \"", kBounceDomain, "\"\n[delivery]\ndsn = false\n",
                     "[[inject.smtp.listener]]\nname = \"bounces\"\nlisten = \"127.0.0.1:0\"\n"
                     "role = \"bounce\"\n");
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  // One SMTP transaction; the reply to its data (or the first refusal).
  std::string Send(const std::string& sender, const std::vector<std::string>& recipients,
                   const std::string& content, size_t listener = 0) {
    auto c = test_support::RawSmtpClient::Connect("127.0.0.1",
                                                  world_.volleyd().smtp_ports().at(listener));
    if (c == nullptr) return "no connection";
    c->ReadFinal();
    c->Ehlo();
    c->Command(absl::StrCat("MAIL FROM:<", sender, ">"));
    for (const std::string& r : recipients) {
      const std::string reply = c->Command(absl::StrCat("RCPT TO:<", r, ">"));
      if (!absl::StartsWith(reply, "250")) return reply;
    }
    c->Command("DATA");
    std::string dotted = absl::StrReplaceAll(content, {{"\r\n", "\n"}});
    dotted = absl::StrReplaceAll(dotted, {{"\n.", "\n.."}, {"\n", "\r\n"}});
    if (!absl::EndsWith(dotted, "\r\n")) absl::StrAppend(&dotted, "\r\n");
    return c->Command(absl::StrCat(dotted, "."));
  }

  // The return path the sink saw for `recipient` (waits for the message).
  std::string ReturnPathOf(const std::string& recipient) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      for (bench::ReceivedMessage& m : world_.sink().TakeMessages()) seen_.push_back(m);
      for (const bench::ReceivedMessage& m : seen_) {
        if (m.recipients == std::vector<std::string>{recipient}) return m.mail_from;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return "";
  }

  // The first log record of `type` for which `match` holds, within 30 seconds.
  json WaitForRecord(const std::string& type, const std::function<bool(const json&)>& match) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      for (absl::string_view line :
           absl::StrSplit(test_support::ReadFileOrEmpty(world_.log_path()), '\n')) {
        json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!record.is_discarded() && record.value("type", "") == type && match(record)) {
          return record;
        }
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return json();
  }

  // Sends one message to `recipient` and returns its final record type.
  std::string FateOf(const std::string& recipient) {
    const std::string reply = Send("s@sender.test", {recipient}, "Subject: again\r\n\r\nx\r\n");
    if (absl::StartsWith(reply, "554")) return "Suppressed";  // its only recipient
    auto entries =
        test_support::WaitForFinalRecords(world_.log_path(), {recipient}, absl::Seconds(30));
    if (!entries.ok()) return entries.status().ToString();
    return test_support::TypesFor(*entries, recipient).back();
  }

  static std::string QueueIdOf(const std::string& reply) {
    const size_t open = reply.find('<');
    return open == std::string::npos ? "" : reply.substr(open + 1, 16);
  }

  test_support::RelayWorld world_;
  std::vector<bench::ReceivedMessage> seen_;
};

TEST_F(InboundReportsTest, AnAsynchronousBounceIsTiedToItsMessageAndSuppresses) {
  const std::string reply = Send("s@sender.test", {"gone@dsn.test"}, "Subject: hi\r\n\r\nhi\r\n");
  ASSERT_TRUE(absl::StartsWith(reply, "250")) << reply;
  const std::string queue_id = QueueIdOf(reply);
  // VERP: the return path names the message and the recipient, signed.
  const std::string verp = ReturnPathOf("gone@dsn.test");
  EXPECT_TRUE(absl::StartsWith(verp, absl::StrCat("b-", queue_id, "-gone=dsn.test-"))) << verp;
  EXPECT_TRUE(absl::EndsWith(verp, absl::StrCat("@", kBounceDomain))) << verp;

  // Later, the receiving site bounces it to that return path (Gmail's form).
  const std::string dsn = absl::StrReplaceAll(
      bounce::InboundSample("gmail_nouser.eml"),
      {{"b-00000000000004d2-someone=gmail.com-000000000000@bounces.example.net", verp},
       {"someone@gmail.com", "gone@dsn.test"}});
  const std::string answer = Send("", {verp}, dsn);
  EXPECT_TRUE(absl::StartsWith(answer, "250")) << answer;
  const json oob = WaitForRecord("OOB", [&](const json& r) { return r["id"] == queue_id; });
  ASSERT_FALSE(oob.is_null()) << "no OOB record for " << queue_id;
  EXPECT_EQ(oob["recipient"], "gone@dsn.test");
  EXPECT_EQ(oob["response"]["code"], 550);
  EXPECT_EQ(oob["bounce_classification"], "InvalidRecipient");
  EXPECT_EQ(oob["report"]["kind"], "dsn");
  EXPECT_EQ(oob["report"]["mapped_by"], "verp");
  EXPECT_EQ(oob["report"]["forged"], false);
  // On the list: the next message to it is Suppressed and never delivered.
  EXPECT_EQ(FateOf("gone@dsn.test"), "Suppressed");
}

TEST_F(InboundReportsTest, AComplaintSuppressesItsRecipientAndAForgedBounceSuppressesNothing) {
  const std::string reply = Send("s@sender.test", {"reader@dsn.test"},
                                 "X-Volley-Tenant: acme\r\nSubject: news\r\n\r\nnews\r\n");
  ASSERT_TRUE(absl::StartsWith(reply, "250")) << reply;
  const std::string queue_id = QueueIdOf(reply);
  const std::string verp = ReturnPathOf("reader@dsn.test");
  ASSERT_FALSE(verp.empty());

  // The mailbox provider's feedback loop sends an ARF report to its registered address.
  const std::string complaint = absl::StrReplaceAll(
      bounce::InboundSample("yahoo_fbl.eml"),
      {{"b-0000000000002a2a-reader=yahoo.com-000000000000@bounces.example.net", verp},
       {"reader@yahoo.com", "reader@dsn.test"}});
  EXPECT_TRUE(absl::StartsWith(
      Send("staff@fbl.test", {absl::StrCat("fbl@", kBounceDomain)}, complaint), "250"));
  const json feedback =
      WaitForRecord("Feedback", [&](const json& r) { return r["id"] == queue_id; });
  ASSERT_FALSE(feedback.is_null());
  EXPECT_EQ(feedback["recipient"], "reader@dsn.test");
  EXPECT_EQ(feedback["feedback_report"]["feedback_type"], "abuse");
  EXPECT_EQ(feedback["report"]["mapped_by"], "verp");
  // The message was delivered and has left the spool, so its tenant is no longer known: the
  // complaint suppresses the recipient for every tenant (docs/bounces.md).
  EXPECT_TRUE(feedback["tenant"].is_null());
  const std::string acme =
      Send("s@sender.test", {"reader@dsn.test"}, "X-Volley-Tenant: acme\r\n\r\nx\r\n");
  EXPECT_TRUE(absl::StartsWith(acme, "554 5.7.1")) << acme;
  EXPECT_EQ(FateOf("reader@dsn.test"), "Suppressed");

  // A bounce to a VERP address Volley never signed: logged as forged, nothing suppressed.
  const std::string forged_verp =
      absl::StrCat("b-", queue_id, "-other=dsn.test-000000000000@", kBounceDomain);
  const std::string forged = absl::StrReplaceAll(
      bounce::InboundSample("gmail_nouser.eml"),
      {{"b-00000000000004d2-someone=gmail.com-000000000000@bounces.example.net", forged_verp},
       {"someone@gmail.com", "other@dsn.test"}});
  EXPECT_TRUE(absl::StartsWith(Send("", {forged_verp}, forged), "250"));
  const json oob =
      WaitForRecord("OOB", [&](const json& r) { return r["report"].value("forged", false); });
  ASSERT_FALSE(oob.is_null());
  EXPECT_EQ(oob["id"], "");
  EXPECT_EQ(FateOf("other@dsn.test"), "Delivery");
}

TEST_F(InboundReportsTest, UnreadableMailIsLoggedUnparsedAndNeverRelayed) {
  const std::string garbage = std::string("Subject: \x01\x02\r\n\r\n\0\0binary\xff\r\n", 25);
  const std::string to = absl::StrCat("whatever@", kBounceDomain);
  EXPECT_TRUE(absl::StartsWith(Send("x@elsewhere.test", {to}, garbage), "250"));
  const json oob =
      WaitForRecord("OOB", [&](const json& r) { return r["report"]["kind"] == "unparsed"; });
  ASSERT_FALSE(oob.is_null());
  EXPECT_FALSE(oob["report"]["reason"].get<std::string>().empty());
  // A report whose Status contradicts its Diagnostic-Code (a 4.x.x status on a 550 reply).
  const std::string contradictory = absl::StrReplaceAll(
      bounce::InboundSample("gmail_nouser.eml"),
      {{"Status: 5.1.1", "Status: 4.4.1"}, {"someone@gmail.com", "odd@dsn.test"}});
  EXPECT_TRUE(absl::StartsWith(Send("", {to}, contradictory), "250"));
  const json odd =
      WaitForRecord("OOB", [&](const json& r) { return r["recipient"] == "odd@dsn.test"; });
  ASSERT_FALSE(odd.is_null());
  EXPECT_EQ(odd["response"]["code"], 550);
  EXPECT_TRUE(odd["response"]["enhanced_code"].is_null());
  // Mixing the bounce domain with mail to relay in one transaction is refused, to be retried.
  auto c = test_support::RawSmtpClient::Connect("127.0.0.1", world_.volleyd().smtp_port());
  ASSERT_NE(c, nullptr);
  c->ReadFinal();
  c->Ehlo();
  c->Command("MAIL FROM:<>");
  EXPECT_TRUE(absl::StartsWith(c->Command(absl::StrCat("RCPT TO:<", to, ">")), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<ok@dsn.test>"), "452 4.5.3"));
  c.reset();
  // A relayed message arrives after the reports: had one been relayed, it would be there.
  ASSERT_TRUE(absl::StartsWith(Send("s@sender.test", {"ok2@dsn.test"}, "\r\nx\r\n"), "250"));
  EXPECT_FALSE(ReturnPathOf("ok2@dsn.test").empty());
  for (const bench::ReceivedMessage& m : seen_) {
    for (const std::string& r : m.recipients) EXPECT_FALSE(absl::StrContains(r, kBounceDomain));
  }
}

TEST_F(InboundReportsTest, ABounceRoleListenerTakesReportsAndNothingElse) {
  // An unreadable report on the bounce listener is taken (and logged), as on any listener.
  EXPECT_TRUE(absl::StartsWith(
      Send("", {absl::StrCat("postmaster@", kBounceDomain)}, "Subject: ?\r\n\r\nnot a report\r\n",
           /*listener=*/1),
      "250"));
  EXPECT_FALSE(WaitForRecord("OOB", [&](const json& r) {
                 return r["report"]["kind"] == "unparsed";
               }).is_null());
  // Mail to relay is refused there, even from a relay network.
  EXPECT_EQ(Send("s@sender.test", {"relay@dsn.test"}, "\r\nx\r\n", /*listener=*/1),
            "550 5.7.1 this server takes only mail to the bounce domain");
}

}  // namespace
}  // namespace volley
