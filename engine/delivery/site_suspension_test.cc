// Suspensions at a site queue (delivery_shard_fixture.h drives one shard by hand): what a
// suspension holds opens no connection and gets no record, what it does not hold goes on, and a
// suspension of one egress source moves the site's connections to the others.
#include <memory>
#include <string>
#include <vector>

#include "engine/adaptive/suspension.h"
#include "engine/delivery/delivery_shard_fixture.h"
#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

class SiteSuspensionTest : public DeliveryShardTest {
 protected:
  adaptive::Suspension Of(std::string domain, std::string tenant = "") {
    adaptive::Suspension s;
    s.id = adaptive::NewSuspensionId();
    s.domain = std::move(domain);
    s.tenant = std::move(tenant);
    s.reason = "test";
    s.created = clock_.Now();
    s.expires = clock_.Now() + absl::Minutes(10);
    return s;
  }

  void Suspend(std::vector<adaptive::Suspension> all) {
    auto set = std::make_shared<const adaptive::SuspensionSet>(std::move(all));
    OnShard([&] { delivery_->SetSuspensions(set); });
  }

  // Waits until the shard's sites hold `n` recipients for a suspension.
  bool WaitHeld(int64_t n) {
    return WaitFor([&] {
      std::vector<SiteSnapshot> found;
      delivery_->Explain("mx1.example.test,mx2.example.test", &found);
      size_t held = 0;
      for (const SiteSnapshot& s : found) held += s.suspended;
      return static_cast<int64_t>(held) == n;
    });
  }
};

TEST_F(SiteSuspensionTest, ASuspendedDomainOpensNothingAndGoesWhenLifted) {
  Suspend({Of("example.test")});
  Inject({"a@example.test"});
  Inject({"b@example.test"});
  ASSERT_TRUE(WaitHeld(2));
  EXPECT_EQ(fakes_.made(), 0);
  EXPECT_TRUE(sink_.Take().empty());  // no attempt, no record
  EXPECT_EQ(Ready(), 2);
  Suspend({});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });
  ASSERT_TRUE(HasTransaction(c));
  OnShard([&] { EXPECT_EQ(c->transaction()->recipients[0].address, "a@example.test"); });
}

TEST_F(SiteSuspensionTest, ItEndsAtItsTimeAndMaxAgeStillApplies) {
  Suspend({Of("example.test")});
  Inject({"a@example.test"});
  ASSERT_TRUE(WaitHeld(1));
  // max_age holds while suspended: the sweep expires it, never offered.
  clock_.Advance(config_.delivery.max_age);
  OnShard([&] { delivery_->SweepForTest(); });
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type, EventType::kExpiration);
  EXPECT_EQ(seen[0].attempts, 0u);
  // A suspension whose time is up holds nothing, though the store has not removed it yet.
  adaptive::Suspension short_one = Of("example.test");
  short_one.expires = clock_.Now() + absl::Minutes(1);
  Suspend({short_one});
  Inject({"b@example.test"});
  ASSERT_TRUE(WaitHeld(1));
  EXPECT_EQ(fakes_.made(), 0);
  clock_.Advance(absl::Minutes(2));
  Inject({"c@example.test"});  // the site looks again at its next turn
  ASSERT_NE(Connection(0), nullptr);
  ASSERT_TRUE(WaitHeld(0));
}

TEST_F(SiteSuspensionTest, ATenantsSuspensionHoldsOnlyItsMail) {
  Suspend({Of("", "t1")});
  Inject({"a@example.test"}, "t1");
  Inject({"b@example.test"}, "t2");
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });
  ASSERT_TRUE(HasTransaction(c));
  OnShard([&] { EXPECT_EQ(c->transaction()->recipients[0].address, "b@example.test"); });
  ASSERT_TRUE(WaitHeld(1));
}

TEST_F(SiteSuspensionTest, ASuspendedSourceLeavesTheSiteToTheOthers) {
  config_.egress_pools["default"].sources = {{"ip1", "127.0.0.1", ""}, {"ip2", "127.0.0.2", ""}};
  adaptive::Suspension ip1 = Of("");
  ip1.site = "mx1.example.test,mx2.example.test";
  ip1.source = "ip1";
  Suspend({ip1});
  Inject({"a@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { EXPECT_EQ(c->options().egress_source, "ip2"); });
  // With every source suspended the site holds its mail and opens nothing more.
  adaptive::Suspension ip2 = ip1;
  ip2.id = adaptive::NewSuspensionId();
  ip2.source = "ip2";
  Suspend({ip1, ip2});
  Inject({"b@example.test"});
  ASSERT_TRUE(WaitHeld(2));
  EXPECT_EQ(fakes_.made(), 1);
  // The connection that was opening is told to quit once ready: it may not start a transaction.
  OnShard([&] { c->Ready(); });
  OnShard([&] { EXPECT_FALSE(c->transaction().has_value()); });
}

}  // namespace
}  // namespace volley::delivery
