// IP warm-up against a real volleyd and sink: a warming source (127.0.0.1) with a cap of 100
// messages an hour toward a provider carries exactly 100 and the pool's warm source
// (127.0.0.2) the rest, as the sink sees them arrive; the count survives a restart. With no
// warm source the mail beyond the cap waits, without attempts, held by "warmup" until the
// cap's opening. (That it goes when the cap opens, an hour later, is site_warmup_test's, on a
// simulated clock.)
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

constexpr char kSchedule[] =
    "[warmup.slow]\n"
    "daily = [100000, 100000]\n"
    "hourly = [100, 100]\n"
    "[shaping.provider.\"prov\"]\n"
    "match = [\"DomainSuffix=.warm.test\"]\n";

std::vector<std::string> Recipients(int from, int n) {
  std::vector<std::string> out;
  for (int i = from; i < from + n; ++i) out.push_back(absl::StrCat("u", i, "@inbox.warm.test"));
  return out;
}

class WarmupTest : public ::testing::Test {
 protected:
  void Start(const std::string& name, const std::string& sources) {
    test_support::RelayOptions options;
    options.name = name;
    options.domains = {"inbox.warm.test"};
    options.sink.record = true;
    options.shaping_default = "connection_limit = 4\n";
    options.config = absl::StrCat("[egress.default]\nsources = [", sources, "]\n", kSchedule);
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  void Inject(const std::vector<std::string>& recipients) {
    auto accepted = test_support::InjectEach(world_.volleyd().smtp_port(), recipients);
    ASSERT_TRUE(accepted.ok()) << accepted.status();
    ASSERT_EQ(*accepted, recipients.size());
  }

  // Messages the sink got from `peer` (its MAIL commands in sessions from that address).
  int MailsFrom(const std::string& peer) {
    int mails = 0;
    for (const test_support::SessionTranscript& t : world_.sink().Transcripts()) {
      if (t.peer_address != peer) continue;
      for (const std::string& c : t.commands) mails += c.rfind("MAIL FROM:", 0) == 0;
    }
    return mails;
  }

  // The explain read-out's warm-up entry of the warming source.
  nlohmann::json Warming() {
    const nlohmann::json q = world_.Explain();
    if (!q.is_object() || !q["warmup"].is_array()) return nullptr;
    for (const nlohmann::json& w : q["warmup"]) {
      if (w["source"] == "warming") return w;
    }
    return nullptr;
  }

  test_support::RelayWorld world_;
};

TEST_F(WarmupTest, BeyondTheHourlyCapMailLeavesFromTheWarmSource) {
  Start("warmup_overflow",
        "{ address = \"127.0.0.1\", name = \"warming\", warmup = \"slow\" }, "
        "{ address = \"127.0.0.2\", name = \"warm\" }");
  // Enough that the warming source's share, uncapped, would be well above its cap.
  const std::vector<std::string> first = Recipients(0, 500);
  Inject(first);
  auto entries = test_support::WaitForFinalRecords(world_.log_path(), first, absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  int from_warming = 0, from_warm = 0;
  for (const test_support::LogEntry& e : *entries) {
    if (e.type == "Reception") continue;
    ASSERT_EQ(e.type, "Delivery") << e.recipient;
    from_warming += e.egress_source == "warming";
    from_warm += e.egress_source == "warm";
  }
  EXPECT_EQ(from_warming, 100);
  EXPECT_EQ(from_warm, 400);
  EXPECT_EQ(MailsFrom("127.0.0.1"), 100);
  EXPECT_EQ(MailsFrom("127.0.0.2"), 400);
  int wrong = 0;
  for (const std::string& r : first) wrong += world_.Received(r) != 1;
  EXPECT_EQ(wrong, 0);
  const nlohmann::json warming = Warming();
  ASSERT_TRUE(warming.is_object()) << world_.Explain().dump();
  EXPECT_EQ(warming["provider"], "prov");
  EXPECT_EQ(warming["schedule"], "slow");
  EXPECT_EQ(warming["day"], 1);
  EXPECT_EQ(warming["hourly_cap"], 100);
  EXPECT_EQ(warming["sent_last_hour"], 100);
  EXPECT_EQ(warming["deferred_today"], 0);
  EXPECT_TRUE(warming["next_opening"].is_string());

  // The count is in the spool: after a restart the warming source still has none left.
  ASSERT_TRUE(world_.Restart().ok());
  const std::vector<std::string> second = Recipients(500, 20);
  Inject(second);
  entries = test_support::WaitForFinalRecords(world_.log_path(), second, absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  int second_delivered = 0;
  for (const std::string& r : second) {
    for (const test_support::LogEntry& e : test_support::EntriesFor(*entries, r)) {
      if (e.type == "Reception") continue;
      EXPECT_EQ(e.type, "Delivery") << e.recipient;
      EXPECT_EQ(e.egress_source, "warm") << e.recipient;
      ++second_delivered;
    }
  }
  EXPECT_EQ(second_delivered, 20);
  EXPECT_EQ(MailsFrom("127.0.0.1"), 100);
}

TEST_F(WarmupTest, WithNoWarmSourceTheRestWaitsWithoutAttempts) {
  Start("warmup_wait", "{ address = \"127.0.0.1\", name = \"warming\", warmup = \"slow\" }");
  const std::vector<std::string> recipients = Recipients(0, 150);
  Inject(recipients);
  ASSERT_TRUE(world_.sink().WaitForMessages(100, absl::Seconds(60)));
  // Polls until the site says the warm-up cap holds the 50 others (a positive sign that it is
  // done sending for the hour).
  nlohmann::json q;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    q = world_.Explain();
    if (q.is_object() && q["ready"] == 50 && q["held_back"].is_object() &&
        q["held_back"]["limit"] == "warmup") {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(q.is_object() && q["held_back"].is_object()) << q.dump();
  EXPECT_EQ(q["held_back"]["limit"], "warmup") << q.dump();
  EXPECT_EQ(q["ready"], 50) << q.dump();
  absl::Time until;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, q["held_back"]["until"].get<std::string>(),
                              &until, nullptr));
  EXPECT_GT(until, absl::Now() + absl::Minutes(55));
  EXPECT_EQ(q["next_change"], q["held_back"]["until"]) << q.dump();
  EXPECT_EQ(world_.sink().messages(), 100u);
  int delivered = 0;
  for (const test_support::LogEntry& e : test_support::ReadDeliveryLog(world_.log_path())) {
    EXPECT_NE(e.type, "TransientFailure") << e.recipient;  // waiting is no attempt
    delivered += e.type == "Delivery";
  }
  EXPECT_EQ(delivered, 100);
  EXPECT_EQ(q["connections"], 0) << "no connection stays open for a full cap";
}

}  // namespace
}  // namespace volley
