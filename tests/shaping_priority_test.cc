// Priority and fairness between tenants in one site's ready queue, behind a real volleyd: a
// tenant's big backlog to a site held to 2 connections and 200/s does not hold back another
// tenant's urgent mail, nor (at one priority) another tenant's few messages.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/arrival_times.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::LogEntry;
using test_support::VolleydProcess;

class ShapingPriority : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::FreshTestDir(
        absl::StrCat("priority_", ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    test_support::SinkOptions sink_options;
    sink_options.on_message = [this](const bench::ReceivedMessage& m) {
      // Tenant A's recipients are a<i>@prio.test.
      if (!m.recipients.empty() && m.recipients[0][0] == 'a') bulk_.Add();
    };
    auto sink = test_support::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = *std::move(sink);
    log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
    const std::string config_path = absl::StrCat(dir_, "/volley.toml");
    std::ofstream(config_path) << test_support::LoopbackConfig(absl::StrCat(dir_, "/spool"),
                                                               log_path_)
                               << test_support::RoutesToSinks({{"prio.test", sink_->port()}})
                               << "[shaping.\"prio.test\"]\n"
                               << "connection_limit = 2\nmax_message_rate = \"200/s\"\n"
                               << "max_deliveries_per_connection = 100000\n";
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = *std::move(volleyd);
  }

  // Injects `n` messages of `tenant` at `priority`; their recipients are PREFIX<i>@prio.test.
  std::vector<std::string> Inject(const std::string& prefix, const std::string& tenant,
                                  const std::string& priority, int n) {
    std::vector<std::string> recipients;
    for (int i = 0; i < n; ++i) recipients.push_back(absl::StrCat(prefix, i, "@prio.test"));
    auto accepted = test_support::InjectEach(volleyd_->smtp_port(), recipients, 8, [&](size_t i) {
      return absl::StrCat("X-Volley-Tenant: ", tenant, "\r\nX-Volley-Priority: ", priority,
                          "\r\nSubject: ", i, "\r\n\r\nbody\r\n");
    });
    EXPECT_TRUE(accepted.ok()) << accepted.status();
    if (accepted.ok()) {
      EXPECT_EQ(*accepted, recipients.size());
    }
    return recipients;
  }

  // How long after `since` the last of `recipients` was delivered (their Delivery records).
  absl::Duration DeliveredWithin(const std::vector<std::string>& recipients, absl::Time since,
                                 const std::string& tenant) {
    auto entries = test_support::WaitForFinalRecords(log_path_, recipients, absl::Seconds(60));
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return absl::InfiniteDuration();
    absl::Time last = absl::InfinitePast();
    int delivered = 0;
    for (const LogEntry& e : *entries) {
      if (e.type != "Delivery" || e.raw.value("tenant", "") != tenant) continue;
      ++delivered;
      absl::Time at;
      std::string error;
      EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, e.raw.value("event_time", ""), &at, &error))
          << error;
      last = std::max(last, at);
    }
    EXPECT_EQ(delivered, static_cast<int>(recipients.size()));
    return last - since;
  }

  // The backlog's rate at the sink over the last `window`.
  double BulkRate(absl::Duration window) {
    return static_cast<double>(bulk_.CountSince(absl::Now() - window)) /
           absl::ToDoubleSeconds(window);
  }
  size_t bulk_delivered() { return bulk_.size(); }

  std::string dir_;
  std::string log_path_;
  test_support::ArrivalTimes bulk_;  // tenant A's messages at the sink
  std::unique_ptr<test_support::SmtpSink> sink_;
  std::unique_ptr<VolleydProcess> volleyd_;
};

TEST_F(ShapingPriority, HighPriorityOvertakesAnotherTenantsBacklog) {
  Inject("a", "A", "bulk", 20000);
  const absl::Time b_injected = absl::Now();
  const size_t backlog = 20000 - bulk_delivered();
  const std::vector<std::string> urgent = Inject("b", "B", "high", 50);
  const absl::Duration b_took = DeliveredWithin(urgent, b_injected, "B");
  std::cout << "50 high-priority messages of B delivered within " << b_took
            << " of injection, behind " << backlog << " of A\n";
  // 50 messages at 200/s take a quarter of a second; "a few seconds" leaves room for a
  // loaded machine, and is far from what waiting behind A's backlog would take (at least
  // 2,000 messages: 10 s; the backlog is smaller only if injecting 20,000 took 90 s).
  EXPECT_LT(b_took, absl::Seconds(5));
  EXPECT_GT(backlog, 2000u);
  EXPECT_GT(20000 - bulk_delivered(), 1000u) << "B did not wait for A's backlog";
  // Meanwhile A drains at the limit.
  absl::SleepFor(absl::Seconds(3));
  const double rate = BulkRate(absl::Seconds(3));
  std::cout << "A's backlog drains at " << rate << " msg/s\n";
  EXPECT_GE(rate, 180.0);
  EXPECT_LE(rate, 220.0);
}

TEST_F(ShapingPriority, TenantsOfOnePriorityTakeTurns) {
  Inject("a", "A", "normal", 5000);
  const absl::Time c_injected = absl::Now();
  const size_t backlog = 5000 - bulk_delivered();
  const std::vector<std::string> few = Inject("c", "C", "normal", 100);
  const absl::Duration c_took = DeliveredWithin(few, c_injected, "C");
  std::cout << "100 messages of C delivered within " << c_took << ", behind " << backlog
            << " of A\n";
  // Taking turns, C's 100 need about 200 transactions: 1 s at 200/s. In arrival order they
  // would wait behind A's backlog (at least 2,000 messages: 10 s).
  EXPECT_LT(c_took, absl::Seconds(5));
  EXPECT_GT(backlog, 2000u);
  EXPECT_GT(5000 - bulk_delivered(), 500u) << "C did not wait for A's backlog";
}

}  // namespace
}  // namespace volley
