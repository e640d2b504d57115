// MxResolver against a real unbound on 127.0.0.1
// (tests/support/unbound_server.h). Each test runs its own libuv loop on the
// test thread and ends with uv_loop_close() == 0.
#include "dns/mx_resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/unbound_server.h"

namespace volley::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::volley::test_support::AuthZone;
using ::volley::test_support::DnsRecord;
using ::volley::test_support::UnboundOptions;
using ::volley::test_support::UnboundServer;

std::string TmpDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

constexpr int kTruncatedMxHosts = 30;

std::vector<DnsRecord> SharedRecords() {
  std::vector<DnsRecord> records = {
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
      // An MX host with only an IPv6 address.
      {"v6only.test", "MX", "10 mx.v6only.test."},
      {"mx.v6only.test", "AAAA", "::1"},
      // The A-label form of "bücher.test".
      {"xn--bcher-kva.test", "MX", "10 mx.xn--bcher-kva.test."},
      {"mx.xn--bcher-kva.test", "A", "192.0.2.90"},
      {"coalesce10k.test", "MX", "10 mx1.coalesce10k.test."},
      {"coalesce10k.test", "MX", "20 mx2.coalesce10k.test."},
      {"mx1.coalesce10k.test", "A", "192.0.2.91"},
      {"mx2.coalesce10k.test", "AAAA", "2001:db8::92"},
      {"mxinfail.test", "MX", "10 mx.x.fail.test."},
      {"stats.test", "MX", "10 mx.stats.test."},
      {"mx.stats.test", "A", "192.0.2.93"},
  };
  // More MX records than fit in a UDP answer (unbound sends at most 1232
  // bytes): c-ares must repeat the query over TCP.
  for (int i = 0; i < kTruncatedMxHosts; ++i) {
    const std::string host =
        absl::StrCat("mx-", i / 10, i % 10, "-a-long-label-to-make-the-answer-big.trunc.test");
    records.push_back({"trunc.test", "MX", absl::StrCat(10 + i, " ", host, ".")});
    records.push_back({host, "A", absl::StrCat("192.0.2.", 100 + i)});
  }
  return records;
}

// Zones served from zone files: real SOAs in negative answers, CNAMEs
// followed.
std::vector<AuthZone> SharedAuthZones() {
  AuthZone zone;
  zone.name = "zone.test";
  zone.negative_ttl = 45;  // the SOA's TTL stays 3600: the minimum wins
  zone.records = {
      // An MX host that is a CNAME (TTL 60) for a name with an address.
      {"cnamed.zone.test", "MX", "10 alias.zone.test.", 300},
      {"alias.zone.test", "CNAME", "real.zone.test.", 60},
      {"real.zone.test", "A", "192.0.2.100", 600},
      // A chain of two CNAMEs.
      {"chain.zone.test", "MX", "10 link.zone.test.", 300},
      {"link.zone.test", "CNAME", "alias.zone.test.", 900},
      // A domain that is a CNAME: to a domain with MX, and to one without.
      {"aliasmx.zone.test", "CNAME", "cnamed.zone.test.", 120},
      {"aliasimplicit.zone.test", "CNAME", "real.zone.test.", 600},
      // Implicit MX: "no MX" holds only for the negative TTL.
      {"implicit.zone.test", "A", "192.0.2.101", 300},
      // Exists, but without MX or addresses.
      {"txt1.zone.test", "TXT", "\"text\""},
      {"txt2.zone.test", "TXT", "\"text\""},
  };
  AuthZone short_negative;
  short_negative.name = "shortneg.test";
  short_negative.negative_ttl = 5;  // below min_ttl
  short_negative.records = {{"mx.shortneg.test", "A", "192.0.2.102"}};
  return {zone, short_negative};
}

class MxResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    UnboundOptions options;
    options.auth_zones = SharedAuthZones();
    options.servfail_zones = {"fail.test"};
    options.drop_zones = {"drop.test"};
    options.log_replies = true;
    auto server = UnboundServer::Start(TmpDir("unbound-shared"), SharedRecords(), options);
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
  EXPECT_THAT(r.site_name, IsEmpty());
  // Cached for the MX record's TTL.
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(300));
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

TEST_F(MxResolverTest, DefaultOptionsMatchTheConfigDefaults) {
  const ResolverOptions options;
  EXPECT_EQ(options.ip_lookup_strategy, IpLookupStrategy::kIpv4ThenIpv6);
  EXPECT_EQ(options.max_ttl, absl::Hours(24));
  EXPECT_EQ(options.serve_stale, absl::Hours(1));
}

TEST_F(MxResolverTest, SiteNameIsTheSortedMxHostSet) {
  MakeResolver();
  EXPECT_EQ(Resolve("two.test").site_name, "mx1.two.test,mx2.two.test");
  // Hosts without addresses still belong to the site.
  MxResult r = Resolve("dangling.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_EQ(r.site_name, "good.dangling.test,nohost.dangling.test");
  EXPECT_EQ(Resolve("literal.test").site_name, "192.0.2.50,mx.literal.test");
  // Implicit MX: the domain itself.
  EXPECT_EQ(Resolve("implicit.test").site_name, "implicit.test");
  EXPECT_EQ(ResolveHost("host.test").site_name, "host.test");
  EXPECT_EQ(ResolveHost("192.0.2.99").site_name, "192.0.2.99");
  EXPECT_THAT(Resolve("nosuchdomain.test").site_name, IsEmpty());
}

TEST_F(MxResolverTest, ServfailIsTemporaryAndNotCached) {
  MakeResolver();
  MxResult r = Resolve("x.fail.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("SERVFAIL"));
  EXPECT_EQ(Resolve("x.fail.test").outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
  EXPECT_EQ(resolver_->stats().Lookups(QueryType::kMx, QueryResult::kServFail), 2u);
}

TEST_F(MxResolverTest, ServfailForAnMxHostAddressIsTemporary) {
  // The MX host lives in the SERVFAIL zone: no address, for now.
  MakeResolver();
  MxResult r = Resolve("mxinfail.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("no MX host has an address"));
  EXPECT_THAT(r.error, HasSubstr("SERVFAIL"));
}

TEST_F(MxResolverTest, ServerDroppingQueriesTimesOutNothingCached) {
  // Unbound drops the queries for this name and answers every other one.
  ResolverOptions options = Options(server_->address());
  options.timeout = absl::Milliseconds(300);
  options.tries = 1;
  MakeResolver(options);
  MxResult r = Resolve("x.drop.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("timeout"));
  EXPECT_EQ(Resolve("x.drop.test").outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
  EXPECT_EQ(resolver_->cache_hits(), 0u);
  EXPECT_EQ(resolver_->stats().Lookups(QueryType::kMx, QueryResult::kTimeout), 2u);
  EXPECT_EQ(Resolve("two.test").outcome, MxOutcome::kOk);
}

// The largest reply size unbound logged for `name` `type` (log-replies).
int MaxReplySize(const UnboundServer& server, absl::string_view name, absl::string_view type) {
  const std::string marker = absl::StrCat(" ", name, ". ", type, " IN NOERROR ");
  int max_size = 0;
  for (absl::string_view line : absl::StrSplit(server.ReadLog(), '\n')) {
    if (!absl::StrContains(line, marker)) continue;
    int size = 0;
    const size_t space = line.rfind(' ');
    if (space != absl::string_view::npos && absl::SimpleAtoi(line.substr(space + 1), &size)) {
      max_size = std::max(max_size, size);
    }
  }
  return max_size;
}

TEST_F(MxResolverTest, TruncatedAnswerIsRepeatedOverTcp) {
  MakeResolver();
  MxResult r = Resolve("trunc.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  // Every MX record arrived: the site lists all of them; the 16 most
  // preferred hosts are kept, each with its address.
  EXPECT_EQ(std::count(r.site_name.begin(), r.site_name.end(), ',') + 1, kTruncatedMxHosts);
  ASSERT_EQ(r.hosts.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(r.hosts[i].preference, 10 + i);
    EXPECT_THAT(r.hosts[i].addresses, ElementsAre(absl::StrCat("192.0.2.", 100 + i)));
  }
  // Unbound answers UDP with at most 1232 bytes (max-udp-size): a bigger
  // reply went over TCP.
  EXPECT_GT(MaxReplySize(*server_, "trunc.test", "MX"), 1232);
  EXPECT_EQ(server_->CountQueries("trunc.test", "MX"), 2);  // UDP, then TCP
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

TEST_F(MxResolverTest, Ipv6OnlyMxHost) {
  MakeResolver();
  MxResult r = Resolve("v6only.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("::1"));
}

TEST_F(MxResolverTest, Ipv6OnlyMxHostUnusableWithIpv4Only) {
  ResolverOptions options = Options(server_->address());
  options.ip_lookup_strategy = IpLookupStrategy::kIpv4Only;
  MakeResolver(options);
  MxResult r = Resolve("v6only.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("no MX host has an address"));
  EXPECT_EQ(resolver_->queries_sent(), 2u);  // MX, A: no AAAA query
}

TEST_F(MxResolverTest, IpLookupStrategyOrdersAndFilters) {
  struct Case {
    IpLookupStrategy strategy;
    std::vector<std::string> mx2_addresses;
    size_t hosts;
    uint64_t queries;
  };
  const Case cases[] = {
      {IpLookupStrategy::kIpv4ThenIpv6, {"192.0.2.2", "2001:db8::2"}, 2, 5},
      {IpLookupStrategy::kIpv6ThenIpv4, {"2001:db8::2", "192.0.2.2"}, 2, 5},
      {IpLookupStrategy::kIpv4Only, {"192.0.2.2"}, 2, 3},
      // mx1.two.test has no AAAA: dropped.
      {IpLookupStrategy::kIpv6Only, {"2001:db8::2"}, 1, 3},
  };
  for (const Case& c : cases) {
    ResolverOptions options = Options(server_->address());
    options.ip_lookup_strategy = c.strategy;
    MakeResolver(options);
    MxResult r = Resolve("two.test");
    ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
    ASSERT_EQ(r.hosts.size(), c.hosts);
    EXPECT_EQ(r.hosts.back().name, "mx2.two.test");
    EXPECT_EQ(r.hosts.back().addresses, c.mx2_addresses);
    EXPECT_EQ(resolver_->queries_sent(), c.queries);
    // The site does not depend on the strategy.
    EXPECT_EQ(r.site_name, "mx1.two.test,mx2.two.test");
    ShutdownResolver();
  }
  // ResolveHost and implicit MX follow the strategy too.
  ResolverOptions options = Options(server_->address());
  options.ip_lookup_strategy = IpLookupStrategy::kIpv6ThenIpv4;
  MakeResolver(options);
  EXPECT_THAT(ResolveHost("host.test").hosts[0].addresses,
              ElementsAre("2001:db8::70", "192.0.2.70"));
  EXPECT_THAT(Resolve("dual.test").hosts[0].addresses, ElementsAre("2001:db8::30", "192.0.2.30"));
  ShutdownResolver();
  options.ip_lookup_strategy = IpLookupStrategy::kIpv6Only;
  MakeResolver(options);
  // implicit.test has an A record only.
  MxResult r = Resolve("implicit.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNoAddresses);
  EXPECT_THAT(r.error, HasSubstr("has no MX records and no AAAA records"));
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

TEST_F(MxResolverTest, CnameMxHostIsFollowed) {
  MakeResolver();
  MxResult r = Resolve("cnamed.zone.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  // The host keeps the MX record's name, with the chain's addresses.
  EXPECT_EQ(r.hosts[0].name, "alias.zone.test");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.100"));
  // The CNAME's 60 s is the smallest TTL along the way.
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(60));

  r = Resolve("chain.zone.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_EQ(r.hosts[0].name, "link.zone.test");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.100"));
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(60));
}

TEST_F(MxResolverTest, DomainThatIsACnameIsFollowed) {
  MakeResolver();
  // To a domain with MX records.
  MxResult r = Resolve("aliasmx.zone.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "alias.zone.test");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.100"));
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(60));
  // To a name without MX: implicit MX through the CNAME.
  r = Resolve("aliasimplicit.zone.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "aliasimplicit.zone.test");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.100"));
  EXPECT_EQ(r.expires, clock_.Now() + absl::Seconds(45));  // the negative MX answer
}

TEST_F(MxResolverTest, Utf8DomainIsLookedUpAsALabels) {
  MakeResolver();
  MxResult r = Resolve(
      "b\xC3\xBC"
      "cher.test");  // "bücher.test"
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "mx.xn--bcher-kva.test");
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.90"));
  EXPECT_EQ(r.site_name, "mx.xn--bcher-kva.test");
  const uint64_t sent = resolver_->queries_sent();
  // The cache key is the A-label form, whatever form the request uses.
  EXPECT_EQ(Resolve("B\xC3\x9C"
                    "CHER.Test.")
                .outcome,
            MxOutcome::kOk);
  EXPECT_EQ(Resolve("xn--bcher-kva.test").outcome, MxOutcome::kOk);
  EXPECT_EQ(resolver_->queries_sent(), sent);
  EXPECT_EQ(resolver_->cache_hits(), 2u);
  // Smarthost names too.
  r = ResolveHost(
      "mx.b\xC3\xBC"
      "cher.test");
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.90"));
}

TEST_F(MxResolverTest, InvalidInternationalisedNameIsNxDomainWithoutQuery) {
  MakeResolver();
  Slot slot = StartResolve(
      "b\xFC"
      "cher.test");  // Latin-1, not UTF-8
  EXPECT_FALSE(slot->has_value());
  MxResult r = Wait(slot);
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain);
  EXPECT_THAT(r.error, HasSubstr("invalid internationalised domain name"));
  r = Resolve("\xE2\x98\x83.test");  // a snowman: not allowed by IDNA2008
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain);
  EXPECT_THAT(r.error, HasSubstr("invalid internationalised domain name"));
  r = ResolveHost("\xE2\x98\x83.test");
  EXPECT_EQ(r.outcome, MxOutcome::kNxDomain);
  EXPECT_EQ(resolver_->queries_sent(), 0u);
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
