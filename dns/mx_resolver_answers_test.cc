// MxResolver against a real unbound on 127.0.0.1 (dns/mx_resolver_test_fixture.h): what a
// lookup returns for each kind of answer.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
using ::testing::IsEmpty;
using ::volley::test_support::UnboundServer;

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

}  // namespace
}  // namespace volley::dns
