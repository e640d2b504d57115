// MxResolver against a real unbound on 127.0.0.1
// (tests/support/unbound_server.h). Each test runs its own libuv loop on the
// test thread and ends with uv_loop_close() == 0.
#include "dns/mx_resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/unbound_server.h"

namespace volley::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::volley::test_support::DnsRecord;
using ::volley::test_support::UnboundServer;

std::string TmpDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

std::vector<DnsRecord> SharedRecords() {
  return {
      // Two MX hosts of different preference; names in odd case on purpose.
      {"two.test", "MX", "20 mx2.two.test.", 60},
      {"two.test", "MX", "10 MX1.Two.Test.", 60},
      {"mx1.two.test", "A", "192.0.2.1", 120},
      {"mx2.two.test", "A", "192.0.2.2", 300},
      {"mx2.two.test", "AAAA", "2001:db8::2", 300},
      // Equal preferences.
      {"equal.test", "MX", "10 a.equal.test."},
      {"equal.test", "MX", "10 b.equal.test."},
      {"a.equal.test", "A", "192.0.2.11"},
      {"b.equal.test", "A", "192.0.2.12"},
      // No MX: the domain is its own implicit MX.
      {"implicit.test", "A", "192.0.2.20"},
      {"dual.test", "AAAA", "2001:db8::30"},
      {"dual.test", "A", "192.0.2.30"},
      // RFC 7505 null MX.
      {"null.test", "MX", "0 ."},
      // Exists, but has neither MX nor A/AAAA.
      {"txtonly.test", "TXT", "\"only text\""},
      // One dangling MX host (NXDOMAIN) next to a good one.
      {"dangling.test", "MX", "10 nohost.dangling.test."},
      {"dangling.test", "MX", "20 good.dangling.test."},
      {"good.dangling.test", "A", "192.0.2.40"},
      // Every MX host dangling: one NXDOMAIN, one without addresses.
      {"alldangling.test", "MX", "10 gone1.alldangling.test."},
      {"alldangling.test", "MX", "20 gone2.alldangling.test."},
      {"gone2.alldangling.test", "TXT", "\"no address here\""},
      // An MX host given as an IP address.
      {"literal.test", "MX", "10 192.0.2.50."},
      {"literal.test", "MX", "20 mx.literal.test."},
      {"mx.literal.test", "A", "192.0.2.51"},
      {"cached.test", "MX", "10 mx.cached.test."},
      {"mx.cached.test", "A", "192.0.2.60"},
      {"coalesce.test", "MX", "10 mx1.coalesce.test."},
      {"coalesce.test", "MX", "20 mx2.coalesce.test."},
      {"mx1.coalesce.test", "A", "192.0.2.61"},
      {"mx2.coalesce.test", "A", "192.0.2.62"},
      // TTLs below min_ttl and above max_ttl.
      {"short.test", "MX", "10 mx.short.test.", 5},
      {"mx.short.test", "A", "192.0.2.63", 600},
      {"long.test", "MX", "10 mx.long.test.", 7200},
      {"mx.long.test", "A", "192.0.2.64", 86400},
      // For ResolveHost.
      {"host.test", "AAAA", "2001:db8::70"},
      {"host.test", "A", "192.0.2.70"},
  };
}

class MxResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = UnboundServer::Start(TmpDir("unbound-shared"), SharedRecords());
    if (server.ok()) {
      server_ = std::move(*server).release();
    } else {
      start_error_ = new std::string(server.status().ToString());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << *start_error_;
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(uv_timer_init(&loop_, &deadline_), 0);
    deadline_.data = this;
    loop_ready_ = true;
  }

  void TearDown() override {
    if (!loop_ready_) return;
    if (resolver_ != nullptr) ShutdownResolver();
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  ResolverOptions Options(const std::string& server) {
    ResolverOptions options;
    options.servers = {server};
    options.timeout = absl::Seconds(2);
    options.tries = 2;
    options.min_ttl = absl::Seconds(30);
    options.max_ttl = absl::Hours(1);
    return options;
  }

  void MakeResolver(const ResolverOptions& options) {
    auto resolver = MxResolver::Create(&loop_, options, clock_);
    ASSERT_TRUE(resolver.ok()) << resolver.status();
    resolver_ = std::move(*resolver);
  }
  void MakeResolver() { MakeResolver(Options(server_->address())); }

  // Runs the loop until `done` holds or `timeout` passes; returns `done()`.
  bool RunUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
    expired_ = false;
    uv_timer_start(
        &deadline_, [](uv_timer_t* t) { static_cast<MxResolverTest*>(t->data)->expired_ = true; },
        absl::ToInt64Milliseconds(timeout), 0);
    while (!done() && !expired_) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&deadline_);
    return done();
  }

  // Shared, so that a callback arriving after a failed wait writes to live
  // memory.
  using Slot = std::shared_ptr<std::optional<MxResult>>;

  Slot StartResolve(absl::string_view domain) {
    auto slot = std::make_shared<std::optional<MxResult>>();
    resolver_->Resolve(domain, [slot](const MxResult& r) { *slot = r; });
    return slot;
  }

  MxResult Wait(const Slot& slot) {
    EXPECT_TRUE(RunUntil([&] { return slot->has_value(); })) << "no answer in time";
    if (!slot->has_value()) {
      MxResult failed;
      failed.error = "test: no answer in time";
      return failed;
    }
    return **slot;
  }

  MxResult Resolve(absl::string_view domain) { return Wait(StartResolve(domain)); }

  MxResult ResolveHost(absl::string_view host) {
    auto slot = std::make_shared<std::optional<MxResult>>();
    resolver_->ResolveHost(host, [slot](const MxResult& r) { *slot = r; });
    return Wait(slot);
  }

  void ShutdownResolver() {
    bool done = false;
    resolver_->Shutdown([&] { done = true; });
    EXPECT_TRUE(RunUntil([&] { return done; }));
    if (done) resolver_.reset();
  }

  static inline UnboundServer* server_ = nullptr;
  static inline std::string* start_error_ = nullptr;

  SimulatedClock clock_;
  uv_loop_t loop_;
  uv_timer_t deadline_;
  bool loop_ready_ = false;
  bool expired_ = false;
  std::unique_ptr<MxResolver> resolver_;
};

// A UDP socket on 127.0.0.1 that never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
    socklen_t len = sizeof(addr);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~SilentServer() {
    if (fd_ >= 0) close(fd_);
  }
  uint16_t port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST_F(MxResolverTest, TwoMxHostsInPreferenceOrderWithAddresses) {
  MakeResolver();
  MxResult r = Resolve("TWO.Test.");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 2u);
  EXPECT_EQ(r.hosts[0].name, "mx1.two.test");
  EXPECT_EQ(r.hosts[0].preference, 10);
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.1"));
  EXPECT_EQ(r.hosts[1].name, "mx2.two.test");
  EXPECT_EQ(r.hosts[1].preference, 20);
  // A before AAAA.
  EXPECT_THAT(r.hosts[1].addresses, ElementsAre("192.0.2.2", "2001:db8::2"));
  // The smallest TTL used: the MX records' 60 s.
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(60));
  // One MX query, then A and AAAA for each host.
  EXPECT_EQ(resolver_->queries_sent(), 5u);
}

TEST_F(MxResolverTest, EqualPreferencesComeInRandomOrder) {
  ResolverOptions options = Options(server_->address());
  options.cache_size = 0;  // every Resolve is a new lookup, with a new shuffle
  MakeResolver(options);
  std::set<std::string> firsts;
  for (int i = 0; i < 40 && firsts.size() < 2; ++i) {
    MxResult r = Resolve("equal.test");
    ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
    ASSERT_EQ(r.hosts.size(), 2u);
    EXPECT_EQ(r.hosts[0].preference, 10);
    EXPECT_EQ(r.hosts[1].preference, 10);
    std::set<std::string> names = {r.hosts[0].name, r.hosts[1].name};
    EXPECT_EQ(names, (std::set<std::string>{"a.equal.test", "b.equal.test"}));
    firsts.insert(r.hosts[0].name);
  }
  // Both orders within 40 tries, unless the shuffle is broken (chance 2^-39).
  EXPECT_EQ(firsts.size(), 2u);
}

TEST_F(MxResolverTest, NoMxMeansImplicitMx) {
  MakeResolver();
  MxResult r = Resolve("implicit.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "implicit.test");
  EXPECT_EQ(r.hosts[0].preference, 0);
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.20"));
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(300));
}

TEST_F(MxResolverTest, ImplicitMxWithAAndAaaaListsAFirst) {
  MakeResolver();
  MxResult r = Resolve("dual.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.30", "2001:db8::30"));
}

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

TEST_F(MxResolverTest, NullMx) {
  MakeResolver();
  MxResult r = Resolve("null.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNullMx) << r.error;
  EXPECT_TRUE(r.hosts.empty());
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(resolver_->queries_sent(), 1u);  // no address lookups
}

TEST_F(MxResolverTest, NameWithNeitherMxNorAddressHasNoAddresses) {
  MakeResolver();
  MxResult r = Resolve("txtonly.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNoAddresses) << r.error;
  EXPECT_TRUE(r.hosts.empty());
}

TEST_F(MxResolverTest, MxHostWithoutAddressIsDropped) {
  MakeResolver();
  MxResult r = Resolve("dangling.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "good.dangling.test");
  EXPECT_EQ(r.hosts[0].preference, 20);
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.40"));
}

TEST_F(MxResolverTest, AllMxHostsDanglingIsTemporaryAndNotCached) {
  MakeResolver();
  MxResult r = Resolve("alldangling.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("no MX host has an address"));
  EXPECT_THAT(r.error, HasSubstr("gone1.alldangling.test"));
  const uint64_t sent = resolver_->queries_sent();
  EXPECT_EQ(sent, 5u);
  EXPECT_EQ(Resolve("alldangling.test").outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2 * sent);
  EXPECT_EQ(resolver_->cache_hits(), 0u);
}

TEST_F(MxResolverTest, IpLiteralMxHostIsUsedWithoutLookup) {
  MakeResolver();
  MxResult r = Resolve("literal.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 2u);
  EXPECT_EQ(r.hosts[0].name, "192.0.2.50");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.50"));
  EXPECT_EQ(r.hosts[1].name, "mx.literal.test");
  EXPECT_THAT(r.hosts[1].addresses, ElementsAre("192.0.2.51"));
  EXPECT_EQ(resolver_->queries_sent(),
            3u);  // MX, and A + AAAA for the named host only
}

TEST_F(MxResolverTest, NameOutsideTheTestZonesIsRefusedAsTemporaryFailure) {
  // Unbound refuses everything outside the test zones, and REFUSED is not an
  // answer.
  MakeResolver();
  // (Not ".invalid" or ".test": unbound's built-in local zones answer those
  // with NXDOMAIN.)
  MxResult r = Resolve("nothere.example");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("REFUSED"));
}

TEST_F(MxResolverTest, SilentServerTimesOutAsTemporaryFailureNotCached) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  ResolverOptions options = Options(silent.address());
  options.timeout = absl::Milliseconds(300);
  options.tries = 1;
  MakeResolver(options);
  const absl::Time start = absl::Now();
  MxResult r = Resolve("two.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("timeout"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(resolver_->queries_sent(), 1u);
  EXPECT_EQ(Resolve("two.test").outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
}

TEST_F(MxResolverTest, ConnectionRefusedIsTemporaryFailure) {
  uint16_t port;
  {
    SilentServer closed;  // take a free port, then free it again
    port = closed.port();
  }
  ASSERT_NE(port, 0);
  ResolverOptions options = Options(absl::StrCat("127.0.0.1:", port));
  options.tries = 1;
  MakeResolver(options);
  MxResult r = Resolve("two.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("connection refused"));
  // The next lookup runs on a rebuilt channel; it must work the same way.
  r = Resolve("implicit.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
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

TEST_F(MxResolverTest, ResolveHostPassesIpLiteralsThrough) {
  MakeResolver();
  MxResult r = ResolveHost("192.0.2.99");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "192.0.2.99");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.99"));
  r = ResolveHost("[2001:DB8:0::1]");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("2001:db8::1"));
  EXPECT_EQ(resolver_->queries_sent(), 0u);
}

TEST_F(MxResolverTest, ResolveHostLooksUpNames) {
  MakeResolver();
  MxResult r = ResolveHost("Host.Test.");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "host.test");
  EXPECT_EQ(r.hosts[0].preference, 0);
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.70", "2001:db8::70"));
  EXPECT_EQ(resolver_->queries_sent(), 2u);  // A and AAAA, no MX
  EXPECT_EQ(ResolveHost("nohost.test").outcome, MxOutcome::kNxDomain);
  EXPECT_EQ(ResolveHost("txtonly.test").outcome, MxOutcome::kNoAddresses);
  // Host and MX answers are cached apart: two.test as a host has no address.
  EXPECT_EQ(ResolveHost("two.test").outcome, MxOutcome::kNoAddresses);
  EXPECT_EQ(Resolve("two.test").outcome, MxOutcome::kOk);
}

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

}  // namespace
}  // namespace volley::dns
