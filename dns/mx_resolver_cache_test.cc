// MxResolver against a real unbound on 127.0.0.1 (dns/mx_resolver_test_fixture.h): the cache
// (TTLs, negative answers, eviction, coalescing) and stale answers while refreshes fail.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dns/mx_resolver.h"
#include "dns/mx_resolver_test_fixture.h"
#include "dns/resolver.h"
#include "engine/base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/unbound_server.h"

namespace volley::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::volley::test_support::DnsRecord;
using ::volley::test_support::UnboundOptions;
using ::volley::test_support::UnboundServer;

TEST_F(MxResolverTest, NxDomainIsCachedForMinTtl) {
  MakeResolver();
  MxResult r = Resolve("nosuchdomain.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain);
  EXPECT_TRUE(r.hosts.empty());
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(30));
  const uint64_t sent = resolver_->queries_sent();
  EXPECT_EQ(Resolve("nosuchdomain.test").outcome, MxOutcome::kNxDomain);
  EXPECT_EQ(resolver_->queries_sent(), sent);
  EXPECT_EQ(resolver_->cache_hits(), 1u);
}

TEST_F(MxResolverTest, CacheHitIsPostedNotSynchronous) {
  MakeResolver();
  ASSERT_EQ(Resolve("cached.test").outcome, MxOutcome::kOk);
  const uint64_t sent = resolver_->queries_sent();
  Slot slot = StartResolve("Cached.Test.");
  EXPECT_FALSE(slot->has_value()) << "the callback ran inside Resolve";
  MxResult r = Wait(slot);
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "mx.cached.test");
  EXPECT_EQ(resolver_->queries_sent(), sent);
  EXPECT_EQ(resolver_->cache_hits(), 1u);
}

TEST_F(MxResolverTest, FailureBeforeAnyQueryIsPostedToo) {
  MakeResolver();
  Slot slot = StartResolve(".");
  EXPECT_FALSE(slot->has_value());
  EXPECT_EQ(Wait(slot).outcome, MxOutcome::kNxDomain);
  EXPECT_EQ(resolver_->queries_sent(), 0u);
}

TEST_F(MxResolverTest, SynchronousCaresFailureIsPostedAndNotCached) {
  MakeResolver();
  // c-ares rejects a label over 63 bytes inside ares_query, calling back at
  // once.
  const std::string bad = std::string(70, 'a') + ".test";
  Slot first = StartResolve(bad);
  Slot second = StartResolve(bad);
  EXPECT_FALSE(first->has_value());
  MxResult r = Wait(first);
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain);
  EXPECT_THAT(r.error, HasSubstr("invalid domain name"));
  // The lookup finished inside the first Resolve, and its negative answer was
  // cached, so the second call was a cache hit.
  EXPECT_EQ(Wait(second).outcome, MxOutcome::kNxDomain);
  EXPECT_EQ(resolver_->cache_hits(), 1u);
  EXPECT_EQ(resolver_->queries_sent(), 1u);
  EXPECT_EQ(Resolve("two.test").outcome, MxOutcome::kOk);
}

TEST_F(MxResolverTest, ConcurrentLookupsForOneDomainShareOneLookup) {
  MakeResolver();
  std::vector<Slot> slots;
  for (int i = 0; i < 100; ++i)
    slots.push_back(StartResolve(i % 2 ? "coalesce.test" : "COALESCE.test."));
  for (const Slot& slot : slots) EXPECT_FALSE(slot->has_value());
  ASSERT_TRUE(RunUntil([&] {
    for (const Slot& slot : slots) {
      if (!slot->has_value()) return false;
    }
    return true;
  }));
  // The MX query plus A and AAAA for each of the two hosts.
  EXPECT_EQ(resolver_->queries_sent(), 5u);
  EXPECT_EQ(resolver_->cache_hits(), 0u);
  for (const Slot& slot : slots) {
    const MxResult& r = **slot;
    ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
    ASSERT_EQ(r.hosts.size(), 2u);
    EXPECT_EQ(r.hosts[0].name, "mx1.coalesce.test");
    EXPECT_EQ(r.hosts[1].name, "mx2.coalesce.test");
  }
}

TEST_F(MxResolverTest, TtlIsClampedToMinAndMax) {
  MakeResolver();
  EXPECT_EQ(Resolve("short.test").expires, clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(Resolve("long.test").expires, clock_.Now() + absl::Hours(1));
}

TEST_F(MxResolverTest, LeastRecentlyUsedEntryIsEvicted) {
  ResolverOptions options = Options(server_->address());
  options.cache_size = 2;
  MakeResolver(options);
  ASSERT_EQ(Resolve("cached.test").outcome, MxOutcome::kOk);
  ASSERT_EQ(Resolve("implicit.test").outcome, MxOutcome::kOk);
  ASSERT_EQ(Resolve("cached.test").outcome,
            MxOutcome::kOk);  // hit; implicit.test is now LRU
  EXPECT_EQ(resolver_->cache_hits(), 1u);
  ASSERT_EQ(Resolve("dual.test").outcome,
            MxOutcome::kOk);  // evicts implicit.test
  const uint64_t sent = resolver_->queries_sent();
  ASSERT_EQ(Resolve("cached.test").outcome, MxOutcome::kOk);
  EXPECT_EQ(resolver_->queries_sent(), sent);
  ASSERT_EQ(Resolve("implicit.test").outcome, MxOutcome::kOk);
  EXPECT_GT(resolver_->queries_sent(), sent);
}

TEST_F(MxResolverTest, ExpiredEntryIsLookedUpAgainAndSeesReloadedZone) {
  auto own = UnboundServer::Start(TmpDir("unbound-reload"),
                                  {
                                      {"reload.test", "MX", "10 old.reload.test.", 60},
                                      {"old.reload.test", "A", "192.0.2.80", 300},
                                      {"new.reload.test", "A", "192.0.2.81", 300},
                                  });
  ASSERT_TRUE(own.ok()) << own.status();
  MakeResolver(Options((*own)->address()));

  MxResult r = Resolve("reload.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "old.reload.test");
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(60));
  const uint64_t sent = resolver_->queries_sent();

  ASSERT_TRUE((*own)
                  ->Reload({
                      {"reload.test", "MX", "10 new.reload.test.", 60},
                      {"old.reload.test", "A", "192.0.2.80", 300},
                      {"new.reload.test", "A", "192.0.2.81", 300},
                  })
                  .ok());

  // Still fresh: the cached answer, without a query.
  clock_.Advance(absl::Seconds(59));
  r = Resolve("reload.test");
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "old.reload.test");
  EXPECT_EQ(resolver_->queries_sent(), sent);

  // Past the TTL: a new lookup sees the new MX.
  clock_.Advance(absl::Seconds(2));
  r = Resolve("reload.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "new.reload.test");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.81"));
  EXPECT_GT(resolver_->queries_sent(), sent);
}

TEST_F(MxResolverTest, TenThousandRequestsMakeOneQueryPerRecord) {
  ResolverOptions options = Options(server_->address());
  options.timeout = absl::Seconds(5);  // no c-ares retry, even on a slow machine
  MakeResolver(options);
  constexpr int kRequests = 10000;
  int answered = 0;
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    resolver_->Resolve("coalesce10k.test", [&](const MxResult& r) {
      ++answered;
      ok += r.outcome == MxOutcome::kOk && r.hosts.size() == 2;
    });
  }
  EXPECT_EQ(answered, 0);
  ASSERT_TRUE(RunUntil([&] { return answered == kRequests; }));
  EXPECT_EQ(ok, kRequests);
  // What unbound received: one MX query, then A and AAAA once per host.
  EXPECT_EQ(server_->CountQueries("coalesce10k.test", "MX"), 1);
  EXPECT_EQ(server_->CountQueries("mx1.coalesce10k.test", "A"), 1);
  EXPECT_EQ(server_->CountQueries("mx1.coalesce10k.test", "AAAA"), 1);
  EXPECT_EQ(server_->CountQueries("mx2.coalesce10k.test", "A"), 1);
  EXPECT_EQ(server_->CountQueries("mx2.coalesce10k.test", "AAAA"), 1);
  EXPECT_EQ(resolver_->queries_sent(), 5u);
  EXPECT_EQ(resolver_->stats().coalesced.load(), uint64_t{kRequests - 1});
}

TEST_F(MxResolverTest, NxDomainIsCachedForTheSoaNegativeTtl) {
  MakeResolver();
  MxResult r = Resolve("nx1.zone.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain) << r.error;
  // min(SOA TTL 3600, SOA MINIMUM 45).
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(45));
  const uint64_t sent = resolver_->queries_sent();
  clock_.Advance(absl::Seconds(44));
  EXPECT_EQ(Resolve("nx1.zone.test").outcome, MxOutcome::kNxDomain);
  EXPECT_EQ(resolver_->queries_sent(), sent);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Resolve("nx1.zone.test").outcome, MxOutcome::kNxDomain);
  EXPECT_EQ(resolver_->queries_sent(), sent + 1);
}

TEST_F(MxResolverTest, NegativeTtlIsClampedToMinTtl) {
  MakeResolver();
  MxResult r = Resolve("nx.shortneg.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain) << r.error;
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(30));  // SOA minimum 5 < min_ttl
}

TEST_F(MxResolverTest, NoDataIsCachedForTheSoaNegativeTtl) {
  MakeResolver();
  MxResult r = Resolve("txt1.zone.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNoAddresses) << r.error;
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(45));
  r = ResolveHost("txt2.zone.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNoAddresses) << r.error;
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(45));
  r = ResolveHost("nx2.zone.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain) << r.error;
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(45));
}

TEST_F(MxResolverTest, ImplicitMxLivesNoLongerThanTheNegativeMxAnswer) {
  MakeResolver();
  MxResult r = Resolve("implicit.zone.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.101"));
  // The A record lives 300 s, but an MX record may appear after 45 s.
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(45));
}

class ServeStaleTest : public MxResolverTest {
 protected:
  static std::vector<DnsRecord> Records(absl::string_view mx_host) {
    return {
        {"stale.test", "MX", absl::StrCat("10 ", mx_host, ".stale.test."), 60},
        {"old.stale.test", "A", "192.0.2.110", 300},
        {"new.stale.test", "A", "192.0.2.111", 300},
        {"other.test", "A", "192.0.2.112", 300},
    };
  }
  // Unbound answers SERVFAIL (or drops the query) for everything under
  // stale.test.
  absl::Status Break(bool drop = false) {
    UnboundOptions options;
    (drop ? options.drop_zones : options.servfail_zones) = {"stale.test"};
    return own_->Reload({{"other.test", "A", "192.0.2.112", 300}}, options);
  }

  void SetUp() override {
    MxResolverTest::SetUp();
    auto own = UnboundServer::Start(TmpDir("unbound-stale"), Records("old"));
    ASSERT_TRUE(own.ok()) << own.status();
    own_ = std::move(*own);
  }

  std::unique_ptr<UnboundServer> own_;
};

TEST_F(ServeStaleTest, StaleAnswerWhileTheRefreshFailsThenFailure) {
  MakeResolver(Options(own_->address()));
  MxResult r = Resolve("stale.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_FALSE(r.stale);
  const absl::Time expired_at = r.expires;
  // Also an NXDOMAIN, which must not be served stale.
  ASSERT_EQ(Resolve("gone.stale.test").outcome, MxOutcome::kNxDomain);
  ASSERT_TRUE(Break().ok());

  clock_.Advance(absl::Seconds(61));
  uint64_t sent = resolver_->queries_sent();
  r = Resolve("stale.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_TRUE(r.stale);
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "old.stale.test");
  EXPECT_EQ(r.site_name, "old.stale.test");
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(30));  // min_ttl: ask again soon
  EXPECT_EQ(resolver_->queries_sent(), sent + 1);          // the refresh was tried
  EXPECT_EQ(resolver_->stats().stale_served.load(), 1u);

  // Each request tries the refresh again.
  sent = resolver_->queries_sent();
  clock_.Advance(absl::Minutes(30));
  r = Resolve("stale.test");
  EXPECT_TRUE(r.stale);
  EXPECT_EQ(resolver_->queries_sent(), sent + 1);
  EXPECT_EQ(resolver_->stats().stale_served.load(), 2u);
  EXPECT_EQ(resolver_->stats().cache_hits.load(), 0u);

  // Negative answers are not served stale.
  r = Resolve("gone.stale.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("SERVFAIL"));

  // serve_stale (1 h) after the expiry: the failure shows.
  clock_.Set(expired_at + absl::Hours(1));
  r = Resolve("stale.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_FALSE(r.stale);
  EXPECT_THAT(r.error, HasSubstr("SERVFAIL"));
  EXPECT_EQ(resolver_->stats().stale_served.load(), 2u);
}

TEST_F(ServeStaleTest, RecoveredServerReplacesTheStaleAnswer) {
  MakeResolver(Options(own_->address()));
  ASSERT_EQ(Resolve("stale.test").outcome, MxOutcome::kOk);
  ASSERT_TRUE(Break().ok());
  clock_.Advance(absl::Seconds(61));
  EXPECT_TRUE(Resolve("stale.test").stale);
  ASSERT_TRUE(own_->Reload(Records("new")).ok());
  MxResult r = Resolve("stale.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_FALSE(r.stale);
  EXPECT_EQ(r.hosts[0].name, "new.stale.test");
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(60));
  // Cached again.
  const uint64_t sent = resolver_->queries_sent();
  EXPECT_EQ(Resolve("stale.test").hosts[0].name, "new.stale.test");
  EXPECT_EQ(resolver_->queries_sent(), sent);
}

TEST_F(ServeStaleTest, StaleAnswerOnTimeoutToo) {
  ResolverOptions options = Options(own_->address());
  options.timeout = absl::Milliseconds(300);
  options.tries = 1;
  MakeResolver(options);
  ASSERT_EQ(Resolve("stale.test").outcome, MxOutcome::kOk);
  ASSERT_TRUE(Break(/*drop=*/true).ok());
  clock_.Advance(absl::Seconds(61));
  MxResult r = Resolve("stale.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_TRUE(r.stale);
  EXPECT_EQ(resolver_->stats().Lookups(QueryType::kMx, QueryResult::kTimeout), 1u);
}

TEST_F(ServeStaleTest, ZeroServeStaleTurnsItOff) {
  ResolverOptions options = Options(own_->address());
  options.serve_stale = absl::ZeroDuration();
  MakeResolver(options);
  ASSERT_EQ(Resolve("stale.test").outcome, MxOutcome::kOk);
  ASSERT_TRUE(Break().ok());
  clock_.Advance(absl::Seconds(61));
  MxResult r = Resolve("stale.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_FALSE(r.stale);
}

}  // namespace
}  // namespace volley::dns
