// Suspensions through the admin API against a real volleyd and sink: a suspended domain gets no
// connection and no attempt while its mail waits (across a restart: the suspension is in the
// spool), and everything goes once it is lifted; a tenant's suspension holds only that tenant's
// mail at a site that goes on delivering the rest, and ends by itself.
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/relay_world.h"

namespace volley {
namespace {

class SuspensionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::RelayOptions options;
    options.name = "suspension";
    options.domains = {"held.test", "open.test"};
    options.sink.on_connections_changed = [this](const std::string&, int delta) {
      if (delta > 0) ++connections_opened_;
    };
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  test_support::HttpResult Api(const std::string& method, const std::string& body = "") {
    auto r = world_.Api(method, "/api/admin/suspend/v1", body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : test_support::HttpResult{};
  }

  // The recipients a suspension holds at the sink's site, by the explain read-out (-1: the
  // site has no queue in memory).
  int SuspendedAtSite() {
    const nlohmann::json q = world_.Explain();
    return q.is_object() ? q.value("suspended", 0) : -1;
  }

  // Polls until the site holds `n` suspended recipients (a positive sign the suspension has
  // caught all of them), within `timeout`.
  bool WaitUntilSuspended(int n, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (SuspendedAtSite() == n) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  std::vector<nlohmann::json> SuspendedRecords() {
    std::vector<nlohmann::json> out;
    for (const test_support::LogEntry& e : test_support::ReadDeliveryLog(world_.log_path())) {
      if (e.type == "Suspended") out.push_back(e.raw);
    }
    return out;
  }

  test_support::RelayWorld world_;
  std::atomic<int> connections_opened_{0};
};

TEST_F(SuspensionTest, ASuspendedDomainWaitsWithoutConnectionsAndGoesOnceLifted) {
  const test_support::HttpResult created =
      Api("POST", R"({"domain": "held.test", "reason": "receiver maintenance", "duration": "1h"})");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = nlohmann::json::parse(created.body)["id"];

  constexpr int kMessages = 1000;
  std::vector<std::string> recipients;
  for (int i = 0; i < kMessages; ++i) recipients.push_back(absl::StrCat("u", i, "@held.test"));
  auto accepted = test_support::InjectEach(world_.volleyd().smtp_port(), recipients);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_EQ(*accepted, static_cast<size_t>(kMessages));
  ASSERT_TRUE(WaitUntilSuspended(kMessages, absl::Seconds(30))) << SuspendedAtSite();
  EXPECT_EQ(connections_opened_.load(), 0);
  auto metrics = test_support::HttpGet("127.0.0.1", world_.volleyd().http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(test_support::MetricValue(metrics->body, "volley_suspended_domains"), 1);
  EXPECT_EQ(
      test_support::MetricValue(metrics->body, "volley_site_held_back{site=\"route:127.0.0.1:" +
                                                   std::to_string(world_.sink().port()) +
                                                   "\",limit=\"suspension\"}"),
      1)
      << metrics->body;

  // A restart keeps it: the spool has it, and the reloaded mail is held again.
  ASSERT_TRUE(world_.Restart().ok());
  const nlohmann::json listed = nlohmann::json::parse(Api("GET").body);
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["id"], id);
  EXPECT_EQ(listed[0]["domain"], "held.test");
  ASSERT_TRUE(WaitUntilSuspended(kMessages, absl::Seconds(60))) << SuspendedAtSite();
  EXPECT_EQ(connections_opened_.load(), 0);

  const test_support::HttpResult lifted = Api("DELETE", absl::StrCat(R"({"id": ")", id, R"("})"));
  ASSERT_EQ(lifted.status, 200) << lifted.body;
  auto entries =
      test_support::WaitForFinalRecords(world_.log_path(), recipients, absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  int wrong = 0, attempts_counted = 0;
  for (const std::string& r : recipients) wrong += world_.Received(r) != 1;
  for (const test_support::LogEntry& e : *entries) {
    EXPECT_NE(e.type, "TransientFailure") << e.recipient;
    if (e.type == "Delivery") attempts_counted += e.num_attempts != 1;
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(attempts_counted, 0);  // the wait was no attempt
  const std::vector<nlohmann::json> records = SuspendedRecords();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["state"], "begin");
  EXPECT_EQ(records[0]["queue"], "held.test");
  EXPECT_EQ(records[0]["reason"], "receiver maintenance");
  EXPECT_EQ(records[1]["state"], "end");
  EXPECT_EQ(records[1]["ended_by"], "lifted");
  EXPECT_EQ(records[1]["id"], id);
}

TEST_F(SuspensionTest, ATenantsSuspensionHoldsOnlyItsMailAndEndsByItself) {
  const test_support::HttpResult created =
      Api("POST", R"({"tenant": "t1", "reason": "complaints", "duration": "8s"})");
  ASSERT_EQ(created.status, 200) << created.body;
  absl::Time expires;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full,
                              nlohmann::json::parse(created.body)["expires"].get<std::string>(),
                              &expires, nullptr));
  std::vector<std::string> recipients;
  for (int i = 0; i < 40; ++i) recipients.push_back(absl::StrCat("u", i, "@open.test"));
  auto accepted =
      test_support::InjectEach(world_.volleyd().smtp_port(), recipients, 2, [](size_t i) {
        return absl::StrCat("X-Volley-Tenant: t", 1 + i % 2, "\r\nSubject: m", i,
                            "\r\n\r\nbody\r\n");
      });
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  std::vector<std::string> t1, t2;
  for (size_t i = 0; i < recipients.size(); ++i) (i % 2 == 0 ? t1 : t2).push_back(recipients[i]);
  // t2 goes at once; t1 waits at the same site, with no record but its Reception.
  auto others = test_support::WaitForFinalRecords(world_.log_path(), t2, absl::Seconds(30));
  ASSERT_TRUE(others.ok()) << others.status();
  const int held = SuspendedAtSite();
  ASSERT_LT(absl::Now(), expires) << "too slow to see the suspension in force";
  EXPECT_EQ(held, 20);
  for (const std::string& r : t1) {
    EXPECT_EQ(test_support::TypesFor(*others, r), std::vector<std::string>{"Reception"}) << r;
  }
  auto all = test_support::WaitForFinalRecords(world_.log_path(), recipients, absl::Seconds(30));
  ASSERT_TRUE(all.ok()) << all.status();
  for (const std::string& r : recipients) EXPECT_EQ(world_.Received(r), 1) << r;
  // The store ends it within a second of its time.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (SuspendedRecords().size() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const std::vector<nlohmann::json> records = SuspendedRecords();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["ended_by"], "expired");
  EXPECT_EQ(records[1]["tenant"], "t1");
  EXPECT_EQ(Api("GET").body, "[]\n");
}

TEST_F(SuspensionTest, BadRequestsAre400NamingTheField) {
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"reason": "no target"})", "domain"},
           {R"({"domain": "held.test", "reason": "r", "duration": "3/never"})", "duration"},
           {R"({"domain": "held.test", "reason": "r", "duration": "-5m"})", "duration"}}) {
    const test_support::HttpResult r = Api("POST", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(nlohmann::json::parse(r.body, nullptr, false).value("field", ""), field) << r.body;
  }
  EXPECT_EQ(Api("DELETE", R"({"id": "no-such-id"})").status, 404);
  EXPECT_EQ(Api("GET").body, "[]\n");
}

}  // namespace
}  // namespace volley
