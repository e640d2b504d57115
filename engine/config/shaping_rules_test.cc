// [shaping] tables: which apply to a destination, in which order, and what is wrong with a bad
// one. The tables are read by the real parser from TOML text.
#include "engine/config/shaping_rules.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/config/config_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::ElementsAre;

// Each layer sets connection_limit to its own number, and a key of its own, so the test sees
// both who won and that the others still contributed.
constexpr absl::string_view kLayers = R"toml(
[egress.pool]
sources = [{ address = "127.0.0.2", name = "ip1" }, { address = "127.0.0.3", name = "ip2" }]

[shaping.default]
connection_limit = 1
max_recipients_per_batch = 11
egress_pool = "pool"

[shaping.provider."google"]
match = ["MXSuffix=.google.com", "DomainSuffix=.gmail.com"]
connection_limit = 2
max_deliveries_per_connection = 22

[shaping.provider."late"]
match = ["MXSuffix=.google.com"]
connection_limit = 99

[shaping.site."*.l.google.com"]
connection_limit = 3
idle_timeout = "33s"

[shaping.site."alt*.l.google.com"]
connection_limit = 4
connect_timeout = "44s"

[shaping."gmail.com"]
connection_limit = 5
max_message_rate = "55/s"

[shaping.source."ip1"]
connection_limit = 6
max_connection_rate = "66/m"

[shaping."gmail.com".source."ip1"]
connection_limit = 7
data_timeout = "77s"
)toml";

struct MergeCase {
  std::string name;
  std::string domain;
  std::vector<std::string> mx;
  std::string source;
  int connection_limit;
  std::vector<std::string> tables;  // applied, in order
};

TEST(ShapingRules, MergeOrderLayerByLayer) {
  absl::StatusOr<Config> config = ParseConfig(kLayers, kOrigin);
  ASSERT_TRUE(config.ok()) << config.status();
  const ShapingRules& rules = config->shaping;
  const std::vector<std::string> google_mx = {"alt1.aspmx.l.google.com", "aspmx.l.google.com"};
  const std::vector<std::string> other_mx = {"mx.example.net"};
  const MergeCase cases[] = {
      {"default only", "example.net", other_mx, "", 1, {}},
      {"provider by MX",
       "customer.example",
       {"aspmx.l.google.com"},
       "",
       3,
       {"[shaping.provider.google]", "[shaping.site.\"*.l.google.com\"]"}},
      {"provider without sites",
       "customer.example",
       {"smtp.google.com"},
       "",
       2,
       {"[shaping.provider.google]"}},
      {"both site globs in file order",
       "customer.example",
       google_mx,
       "",
       4,
       {"[shaping.provider.google]", "[shaping.site.\"*.l.google.com\"]",
        "[shaping.site.\"alt*.l.google.com\"]"}},
      {"domain over sites",
       "gmail.com",
       google_mx,
       "",
       5,
       {"[shaping.provider.google]", "[shaping.site.\"*.l.google.com\"]",
        "[shaping.site.\"alt*.l.google.com\"]", "[shaping.\"gmail.com\"]"}},
      {"source over domain",
       "gmail.com",
       google_mx,
       "ip2",
       5,
       {"[shaping.provider.google]", "[shaping.site.\"*.l.google.com\"]",
        "[shaping.site.\"alt*.l.google.com\"]", "[shaping.\"gmail.com\"]"}},
      {"domain x source last",
       "gmail.com",
       google_mx,
       "ip1",
       7,
       {"[shaping.provider.google]", "[shaping.site.\"*.l.google.com\"]",
        "[shaping.site.\"alt*.l.google.com\"]", "[shaping.\"gmail.com\"]", "[shaping.source.ip1]",
        "[shaping.\"gmail.com\".source.ip1]"}},
      {"source alone", "example.net", other_mx, "ip1", 6, {"[shaping.source.ip1]"}},
      {"provider by domain suffix",
       "mail.gmail.com",
       other_mx,
       "",
       2,
       {"[shaping.provider.google]"}},
  };
  for (const MergeCase& c : cases) {
    std::vector<const ShapingLayer*> applied;
    const ShapingConfig resolved = rules.Resolve(c.domain, c.mx, c.source, &applied);
    EXPECT_EQ(resolved.connection_limit, c.connection_limit) << c.name;
    std::vector<std::string> tables;
    for (const ShapingLayer* layer : applied) tables.push_back(layer->table);
    EXPECT_EQ(tables, c.tables) << c.name;
  }
}

TEST(ShapingRules, EveryLayersOwnKeySurvivesTheOnesAfterIt) {
  absl::StatusOr<Config> config = ParseConfig(kLayers, kOrigin);
  ASSERT_TRUE(config.ok()) << config.status();
  const ShapingRules& rules = config->shaping;
  const std::vector<std::string> google_mx = {"alt1.aspmx.l.google.com", "aspmx.l.google.com"};
  const ShapingConfig all = rules.Resolve("gmail.com", google_mx, "ip1");
  EXPECT_EQ(all.max_recipients_per_batch, 11);
  EXPECT_EQ(all.egress_pool, "pool");
  EXPECT_EQ(all.max_deliveries_per_connection, 22);
  EXPECT_EQ(all.timeouts.idle, absl::Seconds(33));
  EXPECT_EQ(all.timeouts.connect, absl::Seconds(44));
  EXPECT_EQ(all.max_message_rate->ToString(), "55/s");
  EXPECT_EQ(all.max_connection_rate->ToString(), "66/m");
  EXPECT_EQ(all.timeouts.data, absl::Seconds(77));
  EXPECT_EQ(all.provider, "google");
  // The provider's connection_limit is also one budget for every site it takes.
  ASSERT_EQ(all.shared_limits.size(), 1u);
  EXPECT_EQ(all.shared_limits[0].name, "provider:google connection_limit");
  EXPECT_EQ(all.shared_limits[0].connections, 2);
  EXPECT_TRUE(rules.HasDomainTables("gmail.com"));
  EXPECT_FALSE(rules.HasDomainTables("customer.example"));
}

TEST(ShapingRules, NamedSharedLimitsMergeByName) {
  absl::StatusOr<Config> config = ParseConfig(R"toml(
[shaping.default]
additional_connection_limits = { "all-out" = 50 }
[shaping."a.example"]
additional_connection_limits = { "pair" = 4 }
additional_message_rate_throttles = { "pair" = "10/s" }
[shaping."b.example"]
additional_connection_limits = { "pair" = 4 }
[shaping.provider."p"]
match = ["HostName=mx.p.example"]
max_message_rate = "7/m"
max_connection_rate = ""
)toml",
                                              kOrigin);
  ASSERT_TRUE(config.ok()) << config.status();
  auto names = [&](absl::string_view domain, std::vector<std::string> mx) {
    std::vector<std::string> out;
    for (const SharedLimitSpec& s : config->shaping.Resolve(domain, mx, "").shared_limits) {
      out.push_back(s.kind == SharedLimitSpec::Kind::kConnections
                        ? absl::StrCat(s.name, "=", s.connections)
                        : absl::StrCat(s.name, "=", s.rate.ToString()));
    }
    return out;
  };
  EXPECT_THAT(names("a.example", {"mx.a.example"}),
              ElementsAre("additional:all-out connections=50", "additional:pair connections=4",
                          "additional:pair messages=10/s"));
  EXPECT_THAT(names("b.example", {"mx.b.example"}),
              ElementsAre("additional:all-out connections=50", "additional:pair connections=4"));
  // A provider's "" is no shared limit; its rate is.
  EXPECT_THAT(names("c.example", {"mx.p.example"}),
              ElementsAre("additional:all-out connections=50", "provider:p max_message_rate=7/m"));
}

TEST(GlobMatches, StarsAndLiterals) {
  EXPECT_TRUE(GlobMatches("*.mx.example.net", "a.mx.example.net"));
  EXPECT_TRUE(GlobMatches("*.mx.example.net", "a.b.mx.example.net"));
  EXPECT_FALSE(GlobMatches("*.mx.example.net", "mx.example.net"));
  EXPECT_TRUE(GlobMatches("mx*.example.net", "mx12.example.net"));
  EXPECT_TRUE(GlobMatches("*", "anything.at.all"));
  EXPECT_TRUE(GlobMatches("exact.example", "exact.example"));
  EXPECT_FALSE(GlobMatches("exact.example", "exact.example.org"));
  EXPECT_TRUE(GlobMatches("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(GlobMatches("a*b*c", "aXXbYY"));
}

TEST(ShapingRules, BadTablesNameTheirLine) {
  ExpectOneError("[shaping.provider.\"g\"]\nmatch = [\"MXSufix=.google.com\"]\n", 2,
                 "unknown provider matcher \"MXSufix=.google.com\" (use MXSuffix=, DomainSuffix= "
                 "or HostName=)");
  ExpectOneError("[shaping.provider.\"g\"]\nconnection_limit = 3\n", 1, "missing key 'match'");
  ExpectOneError("[shaping.provider.\"g\"]\nmatch = []\n", 2, "expected a non-empty array");
  ExpectOneError("[shaping.site.\"mx..example.net\"]\nconnection_limit = 3\n", 1,
                 "\"mx..example.net\" matches no host name");
  ExpectOneError("\n[shaping.site.\"*.mx example.net\"]\nconnection_limit = 3\n", 2,
                 "matches no host name");
  ExpectOneError("[shaping.source.\"nowhere\"]\nconnection_limit = 3\n", 1,
                 "egress source \"nowhere\" is not in any [egress] pool");
  ExpectOneError("[shaping.\"a.example\".source.\"nowhere\"]\nconnection_limit = 3\n", 1,
                 "egress source \"nowhere\" is not in any [egress] pool");
  ExpectOneError("[shaping.source.\"default\"]\negress_pool = \"default\"\n", 2,
                 "egress_pool: cannot be set per egress source");
  ExpectOneError(
      "[shaping.\"a.example\"]\nadditional_connection_limits = { x = 3 }\n"
      "[shaping.\"b.example\"]\nadditional_connection_limits = { x = 4 }\n",
      4, "shared limit \"connections:x\" is 4 here but 3 at line 2");
  ExpectOneError("[shaping.default]\nadditional_message_rate_throttles = { x = \"often\" }\n", 2,
                 "bad rate \"often\"");
  ExpectOneError("[shaping.default]\nadditional_message_rate_throttles = { x = \"\" }\n", 2,
                 "a shared throttle needs a rate");
  ExpectOneError("[shaping.\"a.example\".sorce.\"x\"]\nconnection_limit = 3\n", 1,
                 "unknown key 'sorce' in [shaping.\"a.example\"]");
}

}  // namespace
}  // namespace volley::config
