#include "dns/dns_cache.h"

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "dns/resolver.h"
#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace volley::dns {
namespace {

class DnsCacheTest : public ::testing::Test {
 protected:
  DnsCacheOptions Options() {
    DnsCacheOptions options;
    options.max_entries = 3;
    options.min_ttl = absl::Seconds(30);
    options.max_ttl = absl::Hours(1);
    options.serve_stale = absl::Minutes(10);
    return options;
  }

  // A kOk answer with one host named `host`, fresh for `ttl` from now.
  std::shared_ptr<const MxResult> Answer(const std::string& host, absl::Duration ttl,
                                         MxOutcome outcome = MxOutcome::kOk) {
    auto result = std::make_shared<MxResult>();
    result->outcome = outcome;
    if (outcome == MxOutcome::kOk) {
      result->hosts.push_back(MxHost{host, 10, {"192.0.2.1"}});
      result->site_name = host;
    }
    result->expires = clock_.Now() + ttl;
    return result;
  }

  SimulatedClock clock_;
};

TEST_F(DnsCacheTest, FreshEntryIsAHitSharedWithTheCaller) {
  DnsCache cache(Options(), clock_);
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
  std::shared_ptr<const MxResult> stored = Answer("mx.a.test", absl::Seconds(60));
  cache.Insert(AnswerKind::kMx, "a.test", stored);
  std::shared_ptr<const MxResult> hit = cache.Find(AnswerKind::kMx, "a.test");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit.get(), stored.get()) << "a hit must not copy the answer";
  EXPECT_EQ(hit->hosts[0].name, "mx.a.test");
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(DnsCacheTest, KindsAreKeptApart) {
  DnsCache cache(Options(), clock_);
  cache.Insert(AnswerKind::kMx, "a.test", Answer("mx.a.test", absl::Seconds(60)));
  EXPECT_EQ(cache.Find(AnswerKind::kHost, "a.test"), nullptr);
  cache.Insert(AnswerKind::kHost, "a.test", Answer("a.test", absl::Seconds(60)));
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test")->hosts[0].name, "mx.a.test");
  EXPECT_EQ(cache.Find(AnswerKind::kHost, "a.test")->hosts[0].name, "a.test");
  EXPECT_EQ(cache.size(), 2u);
}

TEST_F(DnsCacheTest, EntryExpiresAtItsExpiry) {
  DnsCache cache(Options(), clock_);
  cache.Insert(AnswerKind::kMx, "a.test", Answer("mx.a.test", absl::Seconds(60)));
  clock_.Advance(absl::Seconds(59));
  EXPECT_NE(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
}

TEST_F(DnsCacheTest, InsertReplacesTheOlderAnswer) {
  DnsCache cache(Options(), clock_);
  cache.Insert(AnswerKind::kMx, "a.test", Answer("old.a.test", absl::Seconds(60)));
  clock_.Advance(absl::Seconds(61));
  cache.Insert(AnswerKind::kMx, "a.test", Answer("new.a.test", absl::Seconds(60)));
  std::shared_ptr<const MxResult> hit = cache.Find(AnswerKind::kMx, "a.test");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->hosts[0].name, "new.a.test");
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(DnsCacheTest, LeastRecentlyUsedEntryIsEvictedAtTheBound) {
  DnsCache cache(Options(), clock_);  // three entries
  cache.Insert(AnswerKind::kMx, "a.test", Answer("mx.a.test", absl::Hours(1)));
  cache.Insert(AnswerKind::kMx, "b.test", Answer("mx.b.test", absl::Hours(1)));
  cache.Insert(AnswerKind::kHost, "c.test", Answer("c.test", absl::Hours(1)));
  // a.test is the oldest, but a hit makes it the most recently used.
  ASSERT_NE(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
  cache.Insert(AnswerKind::kMx, "d.test", Answer("mx.d.test", absl::Hours(1)));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "b.test"), nullptr);
  EXPECT_NE(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
  EXPECT_NE(cache.Find(AnswerKind::kHost, "c.test"), nullptr);
  EXPECT_NE(cache.Find(AnswerKind::kMx, "d.test"), nullptr);
}

TEST_F(DnsCacheTest, ZeroEntriesCachesNothing) {
  DnsCacheOptions options = Options();
  options.max_entries = 0;
  DnsCache cache(options, clock_);
  cache.Insert(AnswerKind::kMx, "a.test", Answer("mx.a.test", absl::Hours(1)));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
}

TEST_F(DnsCacheTest, ExpiryClampsTheTtl) {
  DnsCache cache(Options(), clock_);
  EXPECT_EQ(cache.ExpiryFor(5), clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(cache.ExpiryFor(600), clock_.Now() + absl::Seconds(600));
  EXPECT_EQ(cache.ExpiryFor(86400), clock_.Now() + absl::Hours(1));
  EXPECT_EQ(cache.ExpiryFor(std::nullopt), clock_.Now() + absl::Seconds(30));
}

TEST_F(DnsCacheTest, StaleAnswerWithinTheWindow) {
  DnsCache cache(Options(), clock_);  // serve_stale 10 min, min_ttl 30 s
  std::shared_ptr<const MxResult> stored = Answer("mx.a.test", absl::Seconds(60));
  const absl::Time expired_at = stored->expires;
  cache.Insert(AnswerKind::kMx, "a.test", stored);
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test"), nullptr) << "expired: no fresh hit";

  std::shared_ptr<const MxResult> stale = cache.FindStale(AnswerKind::kMx, "a.test");
  ASSERT_NE(stale, nullptr);
  EXPECT_TRUE(stale->stale);
  EXPECT_EQ(stale->hosts[0].name, "mx.a.test");
  EXPECT_EQ(stale->expires, clock_.Now() + absl::Seconds(30));
  EXPECT_FALSE(stored->stale) << "the cached answer itself is not changed";
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test"), nullptr) << "still expired";

  // Near the end of the window the stale answer lives only until the end.
  clock_.Set(expired_at + absl::Minutes(10) - absl::Seconds(10));
  stale = cache.FindStale(AnswerKind::kMx, "a.test");
  ASSERT_NE(stale, nullptr);
  EXPECT_EQ(stale->expires, expired_at + absl::Minutes(10));
}

TEST_F(DnsCacheTest, NoStaleAnswerAfterTheWindowAndTheEntryIsDropped) {
  DnsCache cache(Options(), clock_);
  std::shared_ptr<const MxResult> stored = Answer("mx.a.test", absl::Seconds(60));
  cache.Insert(AnswerKind::kMx, "a.test", stored);
  clock_.Set(stored->expires + absl::Minutes(10));
  EXPECT_EQ(cache.FindStale(AnswerKind::kMx, "a.test"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(DnsCacheTest, FindDropsAnExpiredEntryPastTheWindow) {
  DnsCache cache(Options(), clock_);
  cache.Insert(AnswerKind::kMx, "a.test", Answer("mx.a.test", absl::Seconds(60)));
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
  EXPECT_EQ(cache.size(), 1u) << "kept for serve-stale";
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "a.test"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(DnsCacheTest, NegativeAnswersAreNeverServedStale) {
  DnsCache cache(Options(), clock_);
  cache.Insert(AnswerKind::kMx, "gone.test", Answer("", absl::Seconds(60), MxOutcome::kNxDomain));
  cache.Insert(AnswerKind::kMx, "null.test", Answer("", absl::Seconds(60), MxOutcome::kNullMx));
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "gone.test")->outcome, MxOutcome::kNxDomain);
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(cache.FindStale(AnswerKind::kMx, "gone.test"), nullptr);
  // An expired negative answer is dropped by Find as well.
  EXPECT_EQ(cache.Find(AnswerKind::kMx, "null.test"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(DnsCacheTest, ZeroServeStaleTurnsItOff) {
  DnsCacheOptions options = Options();
  options.serve_stale = absl::ZeroDuration();
  DnsCache cache(options, clock_);
  cache.Insert(AnswerKind::kMx, "a.test", Answer("mx.a.test", absl::Seconds(60)));
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(cache.FindStale(AnswerKind::kMx, "a.test"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace volley::dns
