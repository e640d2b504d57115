// IP warm-up at a site queue (delivery_shard_fixture.h drives one shard by hand, on a simulated
// clock): a warming source sends what its cap allows and the pool's warm source the rest; with
// no warm source the mail waits, with no attempt and no record, until the cap opens.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/adaptive/warmup_ledger.h"
#include "engine/delivery/delivery_shard_fixture.h"
#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

constexpr char kSite[] = "mx1.example.test,mx2.example.test";

class SiteWarmupTest : public DeliveryShardTest {
 protected:
  void AdjustConfig() override {
    config::WarmupSchedule schedule;
    schedule.name = "two";
    schedule.daily = {100, 100};
    schedule.hourly = {2, 2};
    config_.warmup_schedules["two"] = schedule;
    config_.egress_pools["default"].sources = sources_;
    ledger_ = std::make_unique<adaptive::WarmupLedger>(spool_.get());
    context_.warmup = ledger_.get();
  }

  // Plays the receiving site: readies new connections, accepts every transaction, closes what
  // was told to quit, until `delivered` messages went or nothing moves. Returns the messages
  // each source carried.
  std::map<std::string, int> Deliver(int delivered) {
    std::map<std::string, int> by_source;
    int total = 0;
    for (int round = 0; round < 1000 && total < delivered; ++round) {
      bool moved = false;
      OnShard([&] {
        fakes_.CloseQuitting();
        std::vector<FakeConnection*> open = fakes_.open();
        for (FakeConnection* c : open) {
          if (c->transaction().has_value()) {
            const size_t n = c->transaction()->recipients.size();
            ++by_source[c->options().egress_source];
            ++total;
            c->Complete(std::vector<smtp::RecipientOutcome>(n, Reply(250, "2.0.0", "ok")));
            moved = true;
          } else if (!c->was_readied()) {
            c->Ready();
            moved = true;
          }
        }
      });
      if (!moved) WaitFor([] { return true; });  // a turn of the loop: bodies are read
    }
    return by_source;
  }

  SiteSnapshot Snapshot() {
    std::vector<SiteSnapshot> found;
    OnShard([&] { delivery_->Explain(kSite, &found); });
    return found.empty() ? SiteSnapshot{} : found.front();
  }

  std::vector<config::EgressSource> sources_ = {{"warming", "127.0.0.1", "", "two"},
                                                {"warm", "127.0.0.2", "", ""}};
  std::unique_ptr<adaptive::WarmupLedger> ledger_;
};

TEST_F(SiteWarmupTest, BeyondTheCapMailLeavesFromTheWarmSource) {
  for (int i = 0; i < 6; ++i) Inject({"r" + std::to_string(i) + "@example.test"});
  std::map<std::string, int> by_source = Deliver(6);
  EXPECT_EQ(by_source["warming"], 2);
  EXPECT_EQ(by_source["warm"], 4);
  int delivered = 0;
  for (const Seen& seen : sink_.Take()) delivered += seen.type == EventType::kDelivery;
  EXPECT_EQ(delivered, 6);
  const SiteSnapshot snapshot = Snapshot();
  ASSERT_EQ(snapshot.warmup.size(), 1u);
  EXPECT_NE(snapshot.warmup[0].find("\"source\":\"warming\""), std::string::npos);
  EXPECT_NE(snapshot.warmup[0].find("\"sent_last_hour\":2"), std::string::npos)
      << snapshot.warmup[0];
  EXPECT_NE(snapshot.warmup[0].find("\"tried_today\":2"), std::string::npos) << snapshot.warmup[0];
}

class LoneWarmingSourceTest : public SiteWarmupTest {
 protected:
  void AdjustConfig() override {
    sources_ = {{"warming", "127.0.0.1", "", "two"}};
    SiteWarmupTest::AdjustConfig();
  }
};

TEST_F(LoneWarmingSourceTest, MailWaitsForTheCapWithNoAttempt) {
  for (int i = 0; i < 3; ++i) Inject({"r" + std::to_string(i) + "@example.test"});
  EXPECT_EQ(Deliver(2)["warming"], 2);
  // The third waits: held by the warm-up cap until its opening, no record, no attempt.
  ASSERT_TRUE(WaitFor([&] {
    std::vector<SiteSnapshot> found;
    delivery_->Explain(kSite, &found);
    return !found.empty() && found[0].held_by == "warmup";
  }));
  const SiteSnapshot held = Snapshot();
  EXPECT_EQ(held.ready, 1u);
  EXPECT_GT(held.held_until, clock_.Now() + absl::Minutes(58));
  EXPECT_LE(held.held_until, clock_.Now() + absl::Minutes(61));
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 2u);
  for (const Seen& s : seen) EXPECT_EQ(s.type, EventType::kDelivery);
  OnShard([&] { fakes_.CloseQuitting(); });
  EXPECT_TRUE(fakes_.open().empty()) << "no connection stays open for a full cap";
  // An hour later the cap opens: the waiting message goes on its first attempt, and the next.
  clock_.Advance(absl::Minutes(62));
  Inject({"r3@example.test"});  // the site looks again at its next turn
  EXPECT_EQ(Deliver(2)["warming"], 2) << SiteSnapshotJson(Snapshot());
  seen = sink_.Take();
  ASSERT_EQ(seen.size(), 2u);
  for (const Seen& s : seen) {
    EXPECT_EQ(s.type, EventType::kDelivery);
    EXPECT_EQ(s.attempts, 1u) << s.recipient;
  }
}

}  // namespace
}  // namespace volley::delivery
