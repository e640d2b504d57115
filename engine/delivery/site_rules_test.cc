// Response rules at a site queue (delivery_shard_fixture.h drives one shard by hand): a reply
// that fires a rule suspends the path that got it, overrides a limit for the rule's duration,
// or bounces what waits.
#include <mutex>
#include <string>
#include <vector>

#include "engine/adaptive/suspension.h"
#include "engine/config/automation_section.h"
#include "engine/delivery/delivery_shard_fixture.h"
#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

constexpr absl::string_view kSite = "mx1.example.test,mx2.example.test";

class SiteRulesTest : public DeliveryShardTest {
 protected:
  void AdjustConfig() override {
    config_.shaping.default_automation = false;
    auto rules = config::ParseAutomationText(rules_, "t.toml");
    ASSERT_TRUE(rules.ok()) << rules.status();
    config_.shaping.automation = *rules;
    config_.shaping.defaults.connection_limit = connection_limit_;
    // Path control would also answer the refusals; these tests look at the rules alone.
    config_.shaping.defaults.adaptive = false;
    context_.suspend = [this](adaptive::Suspension s) {
      std::lock_guard<std::mutex> lock(mutex_);
      suspended_.push_back(std::move(s));
    };
  }

  std::vector<adaptive::Suspension> Suspended() {
    std::lock_guard<std::mutex> lock(mutex_);
    return suspended_;
  }

  SiteSnapshot Site() {
    std::vector<SiteSnapshot> found;
    OnShard([&] { delivery_->Explain(kSite, &found); });
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? SiteSnapshot{} : found[0];
  }

  FakeConnection* Open(size_t i) {
    FakeConnection* c = nullptr;
    OnShard([&] {
      if (fakes_.open().size() > i) c = fakes_.open()[i];
    });
    return c;
  }

  std::string rules_;
  int connection_limit_ = 1;
  std::mutex mutex_;
  std::vector<adaptive::Suspension> suspended_;
};

class SuspendRuleTest : public SiteRulesTest {
 protected:
  void AdjustConfig() override {
    rules_ =
        "[[shaping.automation]]\nregex = \"^421 4\\\\.7\\\\.28 \"\naction = [\"Suspend\", "
        "\"SuspendTenant\"]\nduration = \"10m\"\n";
    SiteRulesTest::AdjustConfig();
  }
};

TEST_F(SuspendRuleTest, TheReplySuspendsItsPathAndItsTenant) {
  Inject({"a@example.test"}, "t1");
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });
  ASSERT_TRUE(HasTransaction(c));
  const absl::Time now = clock_.Now();
  OnShard([&] { c->Complete({Reply(421, "4.7.28", "rate limited - gsmtp")}); });
  std::vector<adaptive::Suspension> s = Suspended();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].site, kSite);
  EXPECT_EQ(s[0].source, "default");
  EXPECT_EQ(s[0].origin, "rule t.toml:1");
  EXPECT_EQ(s[0].reason, "the site answered: 421 4.7.28 rate limited - gsmtp");
  EXPECT_EQ(s[0].expires, now + absl::Minutes(10));
  EXPECT_EQ(s[1].tenant, "t1");
  EXPECT_EQ(s[1].domain, "example.test");
  EXPECT_EQ(s[1].site, "");
  // The recipient itself is retried as usual.
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, EventType::kTransientFailure);
}

class SetConfigRuleTest : public SiteRulesTest {
 protected:
  void AdjustConfig() override {
    rules_ =
        "[[shaping.automation]]\nregex = \"(?i)too many connections\"\naction = { SetConfig "
        "= { name = \"connection_limit\", value = 1 } }\ntrigger = { Threshold = \"2/m\" }\n"
        "duration = \"10m\"\n";
    connection_limit_ = 3;
    SiteRulesTest::AdjustConfig();
  }
};

TEST_F(SetConfigRuleTest, AThresholdOfRefusalsLowersTheLimitForTheDuration) {
  for (int i = 0; i < 3; ++i) Inject({"u" + std::to_string(i) + "@example.test"});
  ASSERT_TRUE(WaitFor([&] { return fakes_.made() == 3; }));
  ConnectionOwner::CloseInfo refused;
  refused.reply = smtp::MakeReply(421, "4.7.0", "Too many connections");
  refused.error = "greeting refused";
  FakeConnection* second = Open(1);
  ASSERT_NE(second, nullptr);
  OnShard([&] { second->Close(refused); });
  EXPECT_TRUE(Site().overrides.empty());  // one match of two
  FakeConnection* third = Open(1);
  ASSERT_NE(third, nullptr);
  OnShard([&] { third->Close(refused); });
  const SiteSnapshot site = Site();
  ASSERT_EQ(site.overrides.size(), 1u);
  EXPECT_NE(site.overrides[0].find("\"key\":\"connection_limit\",\"value\":\"1\""),
            std::string::npos)
      << site.overrides[0];
  EXPECT_EQ(site.next_change, clock_.Now() + absl::Minutes(10));
  // One connection at most now: whatever else was connecting fails, and no other opens; the
  // first carries everything in turn.
  FakeConnection* first = Open(0);
  ASSERT_NE(first, nullptr);
  OnShard([&] {
    std::vector<FakeConnection*> others(fakes_.open().begin() + 1, fakes_.open().end());
    for (FakeConnection* other : others) other->Close({.error = "connection refused"});
  });
  const int made = fakes_.made();
  for (int i = 0; i < 3; ++i) {
    if (i == 0) OnShard([&] { first->Ready(); });
    ASSERT_TRUE(HasTransaction(first));
    OnShard([&] { first->Complete({Reply(250, "2.0.0", "ok")}); });
  }
  EXPECT_EQ(fakes_.made(), made);
  // Ten minutes on, the site's own limit is back.
  clock_.Advance(absl::Minutes(11));
  for (int i = 3; i < 6; ++i) Inject({"u" + std::to_string(i) + "@example.test"});
  ASSERT_TRUE(WaitFor([&] { return fakes_.made() > made; }));
  EXPECT_TRUE(Site().overrides.empty());
}

class BounceRuleTest : public SiteRulesTest {
 protected:
  void AdjustConfig() override {
    rules_ =
        "[[shaping.automation]]\nregex = \"5\\\\.7\\\\.1 .*blocked\"\naction = \"Bounce\"\n"
        "duration = \"10m\"\n";
    SiteRulesTest::AdjustConfig();
  }
};

TEST_F(BounceRuleTest, WhatWaitsAndWhatArrivesBouncesWithTheReply) {
  Inject({"a@example.test"});
  Inject({"b@example.test"});  // waits: one connection at a time
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });
  ASSERT_TRUE(HasTransaction(c));
  OnShard([&] { c->Complete({Reply(554, "5.7.1", "Service unavailable; client host blocked")}); });
  Inject({"c@example.test"});
  ASSERT_TRUE(WaitFor([&] { return sink_.Count() >= 3; }));
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 3u);
  for (const Seen& s : seen) {
    EXPECT_EQ(s.type, EventType::kBounce) << s.recipient;
    EXPECT_EQ(s.code, 554) << s.recipient;
  }
  EXPECT_EQ(seen[1].recipient, "b@example.test");
  EXPECT_EQ(seen[2].recipient, "c@example.test");
}

}  // namespace
}  // namespace volley::delivery
