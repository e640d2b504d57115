// Delivery status notifications end to end: a real volleyd relays to the test sink, which also
// stands for the sender's domain, so the notices Volley sends come back to it; Python's email
// package reads each one as a platform's bounce processor would (tests/testdata/read_report.py).
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/relay_world.h"
#include "tests/support/shell.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using nlohmann::json;

class DsnTest : public ::testing::Test {
 protected:
  // `sink_dsn`: the next hop offers DSN. `delivery`: more [delivery] lines.
  void StartWorld(const std::string& name, bool sink_dsn, const std::string& delivery = "") {
    test_support::RelayOptions options;
    options.name = name;
    options.domains = {"dsn.test", "sender.test"};
    options.sink.record = true;
    options.sink.keep_content = true;
    options.sink.dsn = sink_dsn;
    options.config = absl::StrCat("[delivery]\n", delivery);
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  // One message over SMTP: MAIL FROM with `mail_params`, one RCPT per entry (address, params).
  std::string Send(const std::string& sender, const std::string& mail_params,
                   const std::vector<std::pair<std::string, std::string>>& recipients,
                   const std::string& subject = "hello") {
    auto c = test_support::RawSmtpClient::Connect("127.0.0.1", world_.volleyd().smtp_port());
    if (c == nullptr) return "no connection";
    c->ReadFinal();
    c->Ehlo();
    c->Command(absl::StrCat("MAIL FROM:<", sender, ">", mail_params));
    for (const auto& [address, params] : recipients) {
      c->Command(absl::StrCat("RCPT TO:<", address, ">", params));
    }
    c->Command("DATA");
    return c->Command(absl::StrCat("From: <", sender, ">\r\nSubject: ", subject,
                                   "\r\nMessage-ID: <", subject,
                                   "@sender.test>\r\n\r\nthe original body\r\n."));
  }

  // The next notice (null sender) the sink received for `to`, within 60 seconds.
  std::optional<bench::ReceivedMessage> WaitForNotice(const std::string& to) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      for (bench::ReceivedMessage& m : world_.sink().TakeMessages()) received_.push_back(m);
      for (auto it = received_.begin(); it != received_.end(); ++it) {
        if (it->mail_from.empty() && it->recipients == std::vector<std::string>{to}) {
          bench::ReceivedMessage found = *it;
          received_.erase(it);
          return found;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return std::nullopt;
  }

  // The notice as Python's email package reads it.
  json Read(const bench::ReceivedMessage& notice) {
    const std::string path = absl::StrCat(testing::TempDir(), "/notice-", ++reads_, ".eml");
    std::ofstream(path, std::ios::binary) << notice.content;
    const std::string script =
        absl::StrCat(std::getenv("TEST_SRCDIR"), "/volley/tests/testdata/read_report.py");
    auto [status, output] =
        test_support::RunShell(absl::StrCat(test_support::kPython, " ", script, " ", path));
    EXPECT_EQ(status, 0) << output;
    json parsed = json::parse(output, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << output;
    return parsed;
  }

  // The per-recipient group of `address` ("rfc822; address"), or null.
  static json GroupFor(const json& report, const std::string& address) {
    for (const json& group : report["groups"]) {
      if (group.value("Final-Recipient", "") == absl::StrCat("rfc822; ", address)) return group;
    }
    return json();
  }

  test_support::RelayWorld world_;
  std::vector<bench::ReceivedMessage> received_;  // taken from the sink, not yet matched
  int reads_ = 0;
};

TEST_F(DsnTest, ARejectedRecipientComesBackToTheSenderAsADeliveryReport) {
  StartWorld("dsn_failed", /*sink_dsn=*/true);
  const std::string reply =
      Send("s@sender.test", " RET=HDRS ENVID=env+2B1",
           {{"reject1@dsn.test", " NOTIFY=FAILURE ORCPT=rfc822;Reject1+2Bx@dsn.test"},
            {"ok@dsn.test", " NOTIFY=SUCCESS,FAILURE"}});
  ASSERT_TRUE(absl::StartsWith(reply, "250")) << reply;
  std::optional<bench::ReceivedMessage> notice = WaitForNotice("s@sender.test");
  ASSERT_TRUE(notice.has_value()) << "no notice reached the sender's domain";
  const json report = Read(*notice);
  EXPECT_EQ(report["content_type"], "multipart/report");
  EXPECT_EQ(report["report_type"], "delivery-status");
  EXPECT_EQ(report["auto_submitted"], "auto-replied");
  EXPECT_TRUE(report["defects"].empty()) << report.dump();
  ASSERT_EQ(report["parts"].size(), 3u) << report.dump();
  EXPECT_EQ(report["parts"][0], "text/plain");
  EXPECT_EQ(report["parts"][1], "message/delivery-status");
  EXPECT_EQ(report["parts"][2], "text/rfc822-headers");  // RET=HDRS
  ASSERT_EQ(report["groups"].size(), 2u)
      << "per-message fields and one recipient: " << report.dump();
  const json& message = report["groups"][0];
  EXPECT_TRUE(absl::StartsWith(message.value("Reporting-MTA", ""), "dns; ")) << message.dump();
  EXPECT_EQ(message.value("Original-Envelope-Id", ""), "env+1");
  EXPECT_FALSE(message.value("Arrival-Date", "").empty());
  const json failed = GroupFor(report, "reject1@dsn.test");
  ASSERT_FALSE(failed.is_null()) << report.dump();
  EXPECT_EQ(failed.value("Action", ""), "failed");
  EXPECT_EQ(failed.value("Status", ""), "5.1.1");
  EXPECT_EQ(failed.value("Original-Recipient", ""), "rfc822; Reject1+x@dsn.test");
  EXPECT_TRUE(absl::StartsWith(failed.value("Remote-MTA", ""), "dns; ")) << failed.dump();
  EXPECT_TRUE(absl::StrContains(failed.value("Diagnostic-Code", ""), "smtp; 550 5.1.1"))
      << failed.dump();
  // The delivered recipient went on with its NOTIFY to a hop that reports: not in the notice.
  EXPECT_TRUE(GroupFor(report, "ok@dsn.test").is_null()) << report.dump();
  EXPECT_EQ(report["returned_headers"].value("Subject", ""), "hello");
  EXPECT_FALSE(absl::StrContains(notice->content, "the original body"));

  // The notice is a message of its own: received (listener dsn) and delivered, and logged so.
  auto entries =
      test_support::WaitForFinalRecords(world_.log_path(), {"s@sender.test"}, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(test_support::TypesFor(*entries, "s@sender.test"),
            (std::vector<std::string>{"Reception", "Delivery"}));
}

TEST_F(DsnTest, RetFullReturnsTheWholeMessageAndTheNullSenderGetsNoNotice) {
  StartWorld("dsn_full", /*sink_dsn=*/true);
  // A message from the null sender that bounces: logged, and no notice (there is nobody to
  // tell, and a notice never answers a notice).
  ASSERT_TRUE(absl::StartsWith(Send("", "", {{"reject2@dsn.test", ""}}, "nullsender"), "250"));
  auto bounced =
      test_support::WaitForFinalRecords(world_.log_path(), {"reject2@dsn.test"}, absl::Seconds(30));
  ASSERT_TRUE(bounced.ok()) << bounced.status();
  EXPECT_EQ(test_support::TypesFor(*bounced, "reject2@dsn.test").back(), "Bounce");

  // Then one that asks for the whole message back.
  ASSERT_TRUE(absl::StartsWith(
      Send("t@sender.test", " RET=FULL", {{"reject3@dsn.test", ""}}, "fullreturn"), "250"));
  std::optional<bench::ReceivedMessage> notice = WaitForNotice("t@sender.test");
  ASSERT_TRUE(notice.has_value());
  const json report = Read(*notice);
  ASSERT_EQ(report["parts"].size(), 3u) << report.dump();
  EXPECT_EQ(report["parts"][2], "message/rfc822");
  EXPECT_EQ(report["returned_headers"].value("Subject", ""), "fullreturn");
  EXPECT_TRUE(absl::StrContains(report["returned_body"].get<std::string>(), "the original body"));
  EXPECT_EQ(GroupFor(report, "reject3@dsn.test").value("Status", ""), "5.1.1");
  // The null-sender message bounced before this one: had it made a notice, it would be here.
  for (bench::ReceivedMessage& m : world_.sink().TakeMessages()) received_.push_back(m);
  for (const bench::ReceivedMessage& m : received_) {
    EXPECT_FALSE(m.mail_from.empty() && absl::StrContains(m.content, "reject2@dsn.test"))
        << "a notice for the null sender's message";
  }
}

// A recipient that keeps failing: once delay_dsn_after has passed, one delay notice; at
// max_age, the expiry notice (failed, 4.4.7, the server's last word).
TEST_F(DsnTest, ADelayedThenExpiredRecipientGetsADelayNoticeThenAnExpiryNotice) {
  StartWorld("dsn_delay", /*sink_dsn=*/true,
             "retry_initial = \"3s\"\nretry_max = \"3s\"\nmax_age = \"7s\"\n"
             "delay_dsn_after = \"500ms\"\n");
  ASSERT_TRUE(absl::StartsWith(Send("d@sender.test", "", {{"tempfail@dsn.test", ""}}), "250"));
  std::optional<bench::ReceivedMessage> delayed = WaitForNotice("d@sender.test");
  ASSERT_TRUE(delayed.has_value());
  const json first = Read(*delayed);
  const json d = GroupFor(first, "tempfail@dsn.test");
  EXPECT_EQ(d.value("Action", ""), "delayed") << first.dump();
  EXPECT_EQ(d.value("Status", ""), "4.3.0");
  EXPECT_FALSE(d.value("Will-Retry-Until", "").empty());
  EXPECT_EQ(first["subject"], "Delayed Mail (still being retried)");

  std::optional<bench::ReceivedMessage> expired = WaitForNotice("d@sender.test");
  ASSERT_TRUE(expired.has_value());
  const json second = Read(*expired);
  const json e = GroupFor(second, "tempfail@dsn.test");
  EXPECT_EQ(e.value("Action", ""), "failed") << second.dump();
  EXPECT_EQ(e.value("Status", ""), "4.4.7");
  EXPECT_TRUE(absl::StrContains(e.value("Diagnostic-Code", ""), "451")) << e.dump();
  // Exactly one delay notice: every retry after the first notice sent none.
  for (bench::ReceivedMessage& m : world_.sink().TakeMessages()) received_.push_back(m);
  for (const bench::ReceivedMessage& m : received_) EXPECT_FALSE(m.mail_from.empty());
}

// NOTIFY=SUCCESS towards a next hop that does not offer DSN: Volley says "relayed".
TEST_F(DsnTest, NotifySuccessToAHopWithoutDsnIsReportedAsRelayed) {
  StartWorld("dsn_relayed", /*sink_dsn=*/false);
  ASSERT_TRUE(absl::StartsWith(
      Send("r@sender.test", "", {{"ok@dsn.test", " NOTIFY=SUCCESS"}, {"quiet@dsn.test", ""}}),
      "250"));
  std::optional<bench::ReceivedMessage> notice = WaitForNotice("r@sender.test");
  ASSERT_TRUE(notice.has_value());
  const json report = Read(*notice);
  const json relayed = GroupFor(report, "ok@dsn.test");
  EXPECT_EQ(relayed.value("Action", ""), "relayed") << report.dump();
  EXPECT_EQ(relayed.value("Status", "").substr(0, 2), "2.");
  EXPECT_TRUE(GroupFor(report, "quiet@dsn.test").is_null()) << "no NOTIFY=SUCCESS for it";
  EXPECT_EQ(world_.Received("ok@dsn.test"), 1);
}

}  // namespace
}  // namespace volley
