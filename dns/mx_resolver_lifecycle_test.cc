// MxResolver against a real unbound on 127.0.0.1 (dns/mx_resolver_test_fixture.h): options,
// shutdown, the limit on lookups in flight, and the statistics.
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dns/mx_resolver.h"
#include "dns/mx_resolver_test_fixture.h"
#include "dns/resolver.h"
#include "engine/base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::dns {
namespace {

using ::testing::HasSubstr;

TEST_F(MxResolverTest, ShutdownFailsLookupsInFlightAndClosesEverything) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  ResolverOptions options = Options(silent.address());
  options.timeout = absl::Seconds(5);
  MakeResolver(options);
  std::vector<Slot> slots = {StartResolve("a.test"), StartResolve("a.test"),
                             StartResolve("b.test")};
  auto host_slot = std::make_shared<std::optional<MxResult>>();
  resolver_->ResolveHost("c.test", [host_slot](const MxResult& r) { *host_slot = r; });
  slots.push_back(host_slot);
  // Let the queries go out.
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(resolver_->queries_sent(), 4u);

  bool done = false;
  bool callbacks_before_done = false;
  resolver_->Shutdown([&] {
    done = true;
    callbacks_before_done = true;
    for (const Slot& slot : slots) callbacks_before_done &= slot->has_value();
  });
  for (const Slot& slot : slots) EXPECT_FALSE(slot->has_value()) << "ran inside Shutdown";
  ASSERT_TRUE(RunUntil([&] { return done; }, absl::Seconds(3)));
  EXPECT_TRUE(callbacks_before_done);
  for (const Slot& slot : slots) {
    ASSERT_TRUE(slot->has_value());
    EXPECT_EQ((*slot)->outcome, MxOutcome::kTemporaryFailure);
    EXPECT_EQ((*slot)->error, "shutting down");
  }
  resolver_.reset();
  // TearDown checks uv_loop_close() == 0.
}

TEST_F(MxResolverTest, ShutdownFromInsideACallback) {
  MakeResolver();
  ASSERT_EQ(Resolve("cached.test").outcome, MxOutcome::kOk);
  bool done = false;
  std::optional<MxResult> late;
  resolver_->Resolve("cached.test", [&](const MxResult&) {
    resolver_->Shutdown([&] { done = true; });
    // A lookup after Shutdown is answered, not dropped.
    resolver_->Resolve("two.test", [&](const MxResult& r) { late = r; });
  });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->error, "shutting down");
  resolver_.reset();
}

TEST_F(MxResolverTest, CreateRejectsBadOptions) {
  ResolverOptions options = Options("not a server");
  EXPECT_FALSE(MxResolver::Create(&loop_, options, clock_).ok());
  options = Options(server_->address());
  options.tries = 0;
  EXPECT_FALSE(MxResolver::Create(&loop_, options, clock_).ok());
  options = Options(server_->address());
  options.min_ttl = absl::Hours(2);
  EXPECT_FALSE(MxResolver::Create(&loop_, options, clock_).ok());
}

TEST_F(MxResolverTest, DefaultOptionsMatchTheConfigDefaults) {
  const ResolverOptions options;
  EXPECT_EQ(options.ip_lookup_strategy, IpLookupStrategy::kIpv4ThenIpv6);
  EXPECT_EQ(options.max_ttl, absl::Hours(24));
  EXPECT_EQ(options.serve_stale, absl::Hours(1));
}

TEST_F(MxResolverTest, StatsCountLookupsByTypeAndResult) {
  MakeResolver();
  ASSERT_EQ(Resolve("stats.test").outcome, MxOutcome::kOk);
  ASSERT_EQ(Resolve("stats.test").outcome, MxOutcome::kOk);
  ASSERT_EQ(Resolve("nx3.zone.test").outcome, MxOutcome::kNxDomain);
  ASSERT_EQ(Resolve("nothere.example").outcome, MxOutcome::kTemporaryFailure);
  const ResolverStats& stats = resolver_->stats();
  EXPECT_EQ(stats.Lookups(QueryType::kMx, QueryResult::kOk), 1u);
  EXPECT_EQ(stats.Lookups(QueryType::kA, QueryResult::kOk), 1u);
  EXPECT_EQ(stats.Lookups(QueryType::kAaaa, QueryResult::kNoData), 1u);
  EXPECT_EQ(stats.Lookups(QueryType::kMx, QueryResult::kNxDomain), 1u);
  EXPECT_EQ(stats.Lookups(QueryType::kMx, QueryResult::kRefused), 1u);
  EXPECT_EQ(stats.queries_sent.load(), 5u);
  EXPECT_EQ(stats.cache_hits.load(), 1u);
  EXPECT_EQ(stats.stale_served.load(), 0u);
  EXPECT_EQ(stats.coalesced.load(), 0u);
  uint64_t total = 0;
  for (size_t t = 0; t < kQueryTypeCount; ++t) {
    for (size_t r = 0; r < kQueryResultCount; ++r) {
      total += stats.Lookups(static_cast<QueryType>(t), static_cast<QueryResult>(r));
    }
  }
  EXPECT_EQ(total, 5u);
  // One observation per wire query, all well under 10 s.
  std::string text;
  stats.lookup_seconds.Render("dns_lookup_seconds", "help", &text);
  EXPECT_THAT(text, HasSubstr("dns_lookup_seconds_count 5\n"));
  EXPECT_THAT(text, HasSubstr("dns_lookup_seconds_bucket{le=\"10\"} 5\n"));
  EXPECT_EQ(QueryTypeLabel(QueryType::kAaaa), "aaaa");
  EXPECT_EQ(QueryResultLabel(QueryResult::kServFail), "servfail");
}

TEST_F(MxResolverTest, LookupsBeyondTheLimitWaitTheirTurn) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  ResolverOptions options = Options(silent.address());
  options.timeout = absl::Milliseconds(300);
  options.tries = 1;
  options.max_lookups_in_flight = 2;
  MakeResolver(options);
  std::vector<Slot> slots = {StartResolve("a.test"), StartResolve("b.test"), StartResolve("c.test"),
                             StartResolve("c.test")};
  uv_run(&loop_, UV_RUN_NOWAIT);
  // Two lookups run; c.test waits, and the second request for it joined it.
  EXPECT_EQ(resolver_->queries_sent(), 2u);
  EXPECT_EQ(resolver_->stats().coalesced.load(), 1u);
  ASSERT_TRUE(RunUntil([&] {
    for (const Slot& slot : slots) {
      if (!slot->has_value()) return false;
    }
    return true;
  }));
  for (const Slot& slot : slots) {
    EXPECT_EQ((*slot)->outcome, MxOutcome::kTemporaryFailure);
    EXPECT_THAT((*slot)->error, HasSubstr("timeout"));
  }
  // c.test was sent once the first two had timed out.
  EXPECT_EQ(resolver_->queries_sent(), 3u);
}

TEST_F(MxResolverTest, ShutdownEndsWaitingLookupsToo) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  ResolverOptions options = Options(silent.address());
  options.max_lookups_in_flight = 1;
  MakeResolver(options);
  std::vector<Slot> slots = {StartResolve("a.test"), StartResolve("b.test")};
  auto host_slot = std::make_shared<std::optional<MxResult>>();
  resolver_->ResolveHost("c.test", [host_slot](const MxResult& r) { *host_slot = r; });
  slots.push_back(host_slot);
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(resolver_->queries_sent(), 1u);
  bool done = false;
  resolver_->Shutdown([&] { done = true; });
  ASSERT_TRUE(RunUntil([&] { return done; }, absl::Seconds(3)));
  for (const Slot& slot : slots) {
    ASSERT_TRUE(slot->has_value());
    EXPECT_EQ((*slot)->error, "shutting down");
  }
  EXPECT_EQ(resolver_->queries_sent(), 1u);
  resolver_.reset();
}

TEST_F(MxResolverTest, LimitedLookupsAllComplete) {
  // Many names through a limit of 3: every one resolves, none is lost.
  ResolverOptions options = Options(server_->address());
  options.max_lookups_in_flight = 3;
  MakeResolver(options);
  const std::vector<std::string> names = {"two.test",  "equal.test",   "implicit.test",
                                          "dual.test", "null.test",    "txtonly.test",
                                          "nx4.test",  "literal.test", "cached.test"};
  std::vector<Slot> slots;
  for (const std::string& name : names) slots.push_back(StartResolve(name));
  ASSERT_TRUE(RunUntil([&] {
    for (const Slot& slot : slots) {
      if (!slot->has_value()) return false;
    }
    return true;
  }));
  EXPECT_EQ((*slots[0])->outcome, MxOutcome::kOk);
  EXPECT_EQ((*slots[4])->outcome, MxOutcome::kNullMx);
  EXPECT_EQ((*slots[5])->outcome, MxOutcome::kNoAddresses);
  EXPECT_EQ((*slots[6])->outcome, MxOutcome::kNxDomain);
  EXPECT_EQ((*slots[8])->outcome, MxOutcome::kOk);
}

TEST_F(MxResolverTest, StatsCanBeReadFromAnotherThreadWhileTheLoopRuns) {
  MakeResolver();
  const ResolverStats& stats = resolver_->stats();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  uint64_t max_seen = 0;
  std::thread reader([&] {
    while (!stop.load()) {
      const uint64_t sum = stats.cache_hits.load(std::memory_order_relaxed) +
                           stats.queries_sent.load(std::memory_order_relaxed) +
                           stats.Lookups(QueryType::kA, QueryResult::kOk);
      max_seen = std::max(max_seen, sum);
      std::string text;
      stats.lookup_seconds.Render("x", "y", &text);
      reads.fetch_add(1);
    }
  });
  // The reader runs all along the lookups below (TSan checks the accesses).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (reads.load() == 0 && absl::Now() < deadline) std::this_thread::yield();
  for (int i = 0; i < 20; ++i) {
    MxResult r = Resolve(i % 2 ? "two.test" : "implicit.test");
    EXPECT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  }
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(stats.cache_hits.load(), 18u);
  EXPECT_LE(max_seen,
            18u + stats.queries_sent.load() + stats.Lookups(QueryType::kA, QueryResult::kOk));
}

}  // namespace
}  // namespace volley::dns
