// The suppression list against a real volleyd and sink: an address added through the admin API
// is left out of the next message (a Suppressed record, nothing sent to it) while the message's
// other recipients go; a message for suppressed recipients only is refused with 554 5.7.1 and
// nothing is kept; the entry survives a restart; removing it lets mail through again.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/relay_world.h"

namespace volley {
namespace {

class SuppressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::RelayOptions options;
    options.name = "suppression";
    options.domains = {"sup.test"};
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  test_support::HttpResult Api(const std::string& method, const std::string& body,
                               const std::string& query = "") {
    auto r = world_.Api(method, absl::StrCat("/api/admin/suppression/v1", query), body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : test_support::HttpResult{};
  }

  // One message to `recipients` over SMTP; returns the final reply to its DATA.
  std::string SendOne(const std::vector<std::string>& recipients) {
    auto c = test_support::RawSmtpClient::Connect("127.0.0.1", world_.volleyd().smtp_port());
    if (c == nullptr) return "no connection";
    c->ReadFinal();
    c->Ehlo();
    c->Command("MAIL FROM:<s@volley.test>");
    for (const std::string& r : recipients) c->Command(absl::StrCat("RCPT TO:<", r, ">"));
    c->Command("DATA");
    return c->Command("Subject: t\r\n\r\nbody\r\n.");
  }

  test_support::RelayWorld world_;
};

TEST_F(SuppressionTest, ASuppressedRecipientIsLeftOutAndAllSuppressedIsRefused) {
  const test_support::HttpResult added =
      Api("POST", R"({"recipient": "Gone@sup.test", "reason": "550 5.1.1 user unknown"})");
  ASSERT_EQ(added.status, 200) << added.body;

  // One message, one suppressed recipient and one not.
  EXPECT_TRUE(absl::StartsWith(SendOne({"gone@sup.test", "here@sup.test"}), "250"));
  auto entries =
      test_support::WaitForFinalRecords(world_.log_path(), {"here@sup.test"}, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(test_support::TypesFor(*entries, "here@sup.test").back(), "Delivery");
  std::vector<std::string> gone =
      test_support::TypesFor(test_support::ReadDeliveryLog(world_.log_path()), "gone@sup.test");
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], "Suppressed");
  for (const test_support::LogEntry& e : test_support::EntriesFor(
           test_support::ReadDeliveryLog(world_.log_path()), "gone@sup.test")) {
    EXPECT_EQ(e.code, 550);
    EXPECT_EQ(e.enhanced, "5.7.1");
    EXPECT_TRUE(absl::StrContains(e.content, "550 5.1.1 user unknown")) << e.content;
  }

  // Only suppressed recipients: refused, nothing kept.
  const std::string refused = SendOne({"GONE@sup.test"});
  EXPECT_TRUE(absl::StartsWith(refused, "554 5.7.1")) << refused;

  // Through a restart the entry holds; once removed, mail goes again.
  ASSERT_TRUE(world_.Restart().ok());
  EXPECT_EQ(Api("GET", "", "?recipient=gone%40sup.test").status, 200);
  EXPECT_TRUE(absl::StartsWith(SendOne({"gone@sup.test"}), "554 5.7.1"));
  ASSERT_EQ(Api("DELETE", R"({"recipient": "gone@sup.test"})").status, 200);
  EXPECT_TRUE(absl::StartsWith(SendOne({"gone@sup.test"}), "250"));
  entries =
      test_support::WaitForFinalRecords(world_.log_path(), {"gone@sup.test"}, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(test_support::TypesFor(*entries, "gone@sup.test").back(), "Delivery");
  EXPECT_EQ(world_.Received("gone@sup.test"), 1);
  EXPECT_EQ(world_.Received("here@sup.test"), 1);

  auto metrics = test_support::HttpGet("127.0.0.1", world_.volleyd().http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  // Counted since the restart: the one refusal after it.
  EXPECT_EQ(
      test_support::MetricValue(metrics->body, "volley_deliveries_total{outcome=\"suppressed\"}"),
      1)
      << metrics->body;
}

TEST_F(SuppressionTest, AHardBounceSuppressesItsRecipient) {
  // The sink answers 550 5.1.1 to reject* recipients: InvalidRecipient, a suppressing class.
  EXPECT_TRUE(absl::StartsWith(SendOne({"reject1@sup.test"}), "250"));
  auto entries =
      test_support::WaitForFinalRecords(world_.log_path(), {"reject1@sup.test"}, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(test_support::TypesFor(*entries, "reject1@sup.test").back(), "Bounce");
  // The entry is stored off the loop: poll (bounded) until the API has it.
  test_support::HttpResult found;
  for (int i = 0; i < 200 && found.status != 200; ++i) {
    found = Api("GET", "", "?recipient=reject1%40sup.test");
    if (found.status != 200) absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_EQ(found.status, 200) << found.body;
  const nlohmann::json e = nlohmann::json::parse(found.body);
  EXPECT_EQ(e["source"], "bounce");
  EXPECT_TRUE(absl::StartsWith(e["reason"].get<std::string>(), "550 5.1.1")) << e.dump();
  EXPECT_TRUE(e["tenant"].is_null());
  // The next message to it is never sent: refused, as its only recipient is suppressed.
  EXPECT_TRUE(absl::StartsWith(SendOne({"reject1@sup.test"}), "554 5.7.1"));
  EXPECT_EQ(world_.sink().recipients(), 0u);
}

}  // namespace
}  // namespace volley
