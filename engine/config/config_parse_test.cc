// Config: the defaults, files that parse, and LoadConfigFile.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "engine/config/config_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ConfigDefaults, MatchTheInterface) {
  const Config c = Config::Defaults();
  EXPECT_EQ(c.server.hostname, "volley.localdomain");
  EXPECT_EQ(c.server.threads, 0);
  EXPECT_EQ(c.server.spool, "volley-spool");
  EXPECT_EQ(c.server.log, "volley-log/delivery.jsonl");
  EXPECT_EQ(c.server.spool_min_free, 1024u * 1024 * 1024);
  EXPECT_THAT(c.inject_smtp.listen, ElementsAre(HostPort{"127.0.0.1", 2525}));
  EXPECT_THAT(CidrStrings(c.inject_smtp.relay_networks), ElementsAre("127.0.0.0/8", "::1/128"));
  EXPECT_EQ(c.inject_smtp.max_message_size, 25u * 1024 * 1024);
  EXPECT_EQ(c.inject_smtp.max_recipients, 1000);
  EXPECT_EQ(c.inject_smtp.max_connections, 1000);
  EXPECT_EQ(c.inject_smtp.tenant_header, "X-Volley-Tenant");
  EXPECT_EQ(c.inject_smtp.campaign_header, "X-Volley-Campaign");
  EXPECT_EQ(c.inject_smtp.priority_header, "X-Volley-Priority");
  EXPECT_EQ(c.inject_smtp.default_tenant, "");
  EXPECT_EQ(c.inject_smtp.default_campaign, "");
  EXPECT_EQ(c.inject_smtp.default_priority, 5);
  EXPECT_EQ(c.http.listen, (HostPort{"127.0.0.1", 8025}));
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_EQ(c.dns.timeout, absl::Seconds(5));
  EXPECT_EQ(c.delivery.port, 25);
  EXPECT_EQ(c.delivery.retry_initial, absl::Minutes(5));
  EXPECT_EQ(c.delivery.retry_max, absl::Hours(1));
  EXPECT_EQ(c.delivery.max_age, absl::Hours(24 * 5));
  EXPECT_TRUE(c.delivery.dsn);
  EXPECT_EQ(c.delivery.delay_dsn_after, absl::Hours(4));
  EXPECT_EQ(c.shaping.defaults.connection_limit, 10);
  EXPECT_EQ(c.shaping.defaults.max_deliveries_per_connection, 100);
  EXPECT_TRUE(c.routes.empty());
}

// The delivery client's timeouts come from here alone (RFC 5321 4.5.3.2 and
// docs/configuration.md).
TEST(ConfigDefaults, SmtpTimeoutsAreTheDocumentedOnes) {
  const SmtpTimeouts& t = Config::Defaults().shaping.defaults.timeouts;
  EXPECT_EQ(t.connect, absl::Seconds(60));
  EXPECT_EQ(t.banner, absl::Minutes(5));
  EXPECT_EQ(t.ehlo, absl::Minutes(5));
  EXPECT_EQ(t.mail_from, absl::Minutes(5));
  EXPECT_EQ(t.rcpt_to, absl::Minutes(5));
  EXPECT_EQ(t.data, absl::Minutes(2));
  EXPECT_EQ(t.data_dot, absl::Minutes(10));
  EXPECT_EQ(t.idle, absl::Seconds(60));
}

TEST(ConfigDefaults, EmptyFileGivesDefaults) {
  const absl::StatusOr<Config> c = ParseConfig("# nothing\n\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.hostname, "volley.localdomain");
  EXPECT_THAT(CidrStrings(c->inject_smtp.relay_networks), ElementsAre("127.0.0.0/8", "::1/128"));
  EXPECT_EQ(c->delivery.port, 25);
}

TEST(ParseConfig, FullFileWithEveryKey) {
  const absl::StatusOr<Config> c = ParseConfig(R"toml(
[server]
hostname = "mta1.example.net"
threads = 4
spool = "/var/spool/volley"
log = ""

[inject.smtp]
listen = ["127.0.0.1:25", "[::1]:2525"]
relay_networks = ["10.0.0.0/8", "2001:db8::/32", "192.168.1.7"]
max_message_size = "10MB"
max_recipients = 50
max_connections = 200
tenant_header = "X-Customer"
campaign_header = "X-Mailing"
priority_header = "X-Prio"
default_tenant = "platform"
default_campaign = "misc.2026"
default_priority = "bulk"

[http]
listen = "[::1]:8080"

[dns]
servers = ["127.0.0.1:5353", "10.0.0.2", "[::1]:53"]
timeout = "1500ms"

[delivery]
port = 2600
retry_initial = "30s"
retry_max = "1h30m"
max_age = "2d"
dsn = false
delay_dsn_after = ""

[shaping.default]
connection_limit = 3
max_deliveries_per_connection = 7

[routes]
"relay.example" = { host = "127.0.0.1:2601" }
"Other.Example" = { host = "smarthost.internal" }
"v6.example" = { host = "[::1]" }
)toml",
                                               kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.hostname, "mta1.example.net");
  EXPECT_EQ(c->server.threads, 4);
  EXPECT_EQ(c->server.spool, "/var/spool/volley");
  EXPECT_EQ(c->server.log, "");
  EXPECT_THAT(c->inject_smtp.listen, ElementsAre(HostPort{"127.0.0.1", 25}, HostPort{"::1", 2525}));
  EXPECT_THAT(CidrStrings(c->inject_smtp.relay_networks),
              ElementsAre("10.0.0.0/8", "2001:db8::/32", "192.168.1.7/32"));
  EXPECT_EQ(c->inject_smtp.max_message_size, 10'000'000u);
  EXPECT_EQ(c->inject_smtp.max_recipients, 50);
  EXPECT_EQ(c->inject_smtp.max_connections, 200);
  EXPECT_EQ(c->inject_smtp.tenant_header, "X-Customer");
  EXPECT_EQ(c->inject_smtp.campaign_header, "X-Mailing");
  EXPECT_EQ(c->inject_smtp.priority_header, "X-Prio");
  EXPECT_EQ(c->inject_smtp.default_tenant, "platform");
  EXPECT_EQ(c->inject_smtp.default_campaign, "misc.2026");
  EXPECT_EQ(c->inject_smtp.default_priority, 2);
  EXPECT_EQ(c->http.listen, (HostPort{"::1", 8080}));
  EXPECT_THAT(c->dns.servers, ElementsAre(HostPort{"127.0.0.1", 5353}, HostPort{"10.0.0.2", 53},
                                          HostPort{"::1", 53}));
  EXPECT_EQ(c->dns.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(c->delivery.port, 2600);
  EXPECT_EQ(c->delivery.retry_initial, absl::Seconds(30));
  EXPECT_EQ(c->delivery.retry_max, absl::Minutes(90));
  EXPECT_EQ(c->delivery.max_age, absl::Hours(48));
  EXPECT_FALSE(c->delivery.dsn);
  EXPECT_EQ(c->delivery.delay_dsn_after, absl::ZeroDuration());
  EXPECT_EQ(c->shaping.defaults.connection_limit, 3);
  EXPECT_EQ(c->shaping.defaults.max_deliveries_per_connection, 7);
  ASSERT_EQ(c->routes.size(), 3u);
  EXPECT_EQ(c->routes.at("relay.example").host, (HostPort{"127.0.0.1", 2601}));
  // Lower-cased key; no port written, so [delivery] port.
  EXPECT_EQ(c->routes.at("other.example").host, (HostPort{"smarthost.internal", 2600}));
  EXPECT_EQ(c->routes.at("v6.example").host, (HostPort{"::1", 2600}));
}

TEST(ParseConfig, ListenAcceptsOneString) {
  const absl::StatusOr<Config> c =
      ParseConfig("[inject.smtp]\nlisten = \"0.0.0.0:587\"\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->inject_smtp.listen, ElementsAre(HostPort{"0.0.0.0", 587}));
}

TEST(ParseConfig, MaxMessageSizeAsInteger) {
  const absl::StatusOr<Config> c =
      ParseConfig("[inject.smtp]\nmax_message_size = 1048576\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->inject_smtp.max_message_size, 1048576u);
}

TEST(ParseConfig, SpoolMinFree) {
  absl::StatusOr<Config> c = ParseConfig("[server]\nspool_min_free = \"512MiB\"\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.spool_min_free, 512u * 1024 * 1024);
  // 0 turns the check off; unlike a message size limit, that is a meaningful value.
  c = ParseConfig("[server]\nspool_min_free = 0\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.spool_min_free, 0u);
}

TEST(ParseConfig, DefaultPriorityAsNameDigitOrInteger) {
  for (const auto& [written, priority] : std::vector<std::pair<std::string, int>>{{"\"high\"", 8},
                                                                                  {"\"normal\"", 5},
                                                                                  {"\"bulk\"", 2},
                                                                                  {"\"0\"", 0},
                                                                                  {"\"9\"", 9},
                                                                                  {"7", 7},
                                                                                  {"0", 0}}) {
    const absl::StatusOr<Config> c =
        ParseConfig(absl::StrCat("[inject.smtp]\ndefault_priority = ", written, "\n"), kOrigin);
    ASSERT_TRUE(c.ok()) << written << ": " << c.status();
    EXPECT_EQ(c->inject_smtp.default_priority, priority) << written;
  }
  // "" is no tenant and no campaign, as when the key is not written.
  const absl::StatusOr<Config> c =
      ParseConfig("[inject.smtp]\ndefault_tenant = \"\"\ndefault_campaign = \"\"\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->inject_smtp.default_tenant, "");
  EXPECT_EQ(c->inject_smtp.default_campaign, "");
}

TEST(ParseConfig, EmptyRelayNetworksMeansNobodyRelays) {
  const absl::StatusOr<Config> c = ParseConfig("[inject.smtp]\nrelay_networks = []\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->inject_smtp.relay_networks.empty());
}

TEST(ParseConfig, DeliveryPortAfterRoutesIsTheRouteDefault) {
  const absl::StatusOr<Config> c = ParseConfig(R"toml([routes]
"a.example" = { host = "127.0.0.1" }
"b.example" = { host = "127.0.0.1:2700" }

[delivery]
port = 2600
)toml",
                                               kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->routes.at("a.example").host, (HostPort{"127.0.0.1", 2600}));
  EXPECT_EQ(c->routes.at("b.example").host, (HostPort{"127.0.0.1", 2700}));
}

TEST(ParseConfig, RouteWithoutPortAndNoDeliveryPortUses25) {
  const absl::StatusOr<Config> c =
      ParseConfig("[routes]\n\"a.example\" = { host = \"mx.a.example\" }\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->routes.at("a.example").host, (HostPort{"mx.a.example", 25}));
}

TEST(ParseConfig, RouteAsStandardTable) {
  const absl::StatusOr<Config> c =
      ParseConfig("[routes.\"relay.example\"]\nhost = \"127.0.0.1:2601\"\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->routes.at("relay.example").host, (HostPort{"127.0.0.1", 2601}));
}

TEST(LoadConfigFile, ReadsTheFileAndNamesItInErrors) {
  const char* tmpdir = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmpdir, nullptr);
  const std::string path = absl::StrCat(tmpdir, "/volley.toml");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("[server]\nthreads = 3\n", f);
  std::fclose(f);
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.threads, 3);

  f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("[server]\nthreads = \"x\"\n", f);
  std::fclose(f);
  c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), StartsWith(absl::StrCat(path, ":2: ")));
}

TEST(LoadConfigFile, MissingFileNamesThePath) {
  const absl::StatusOr<Config> c = LoadConfigFile("/nonexistent/volley.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("\"/nonexistent/volley.toml\""));
}

TEST(LoadConfigFile, DirectoryIsAnError) {
  const char* tmpdir = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmpdir, nullptr);
  const absl::StatusOr<Config> c = LoadConfigFile(tmpdir);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("cannot read config file"));
}

TEST(ConfigParse, Webhooks) {
  absl::StatusOr<Config> c = ParseConfig(R"toml(
[[webhook]]
url = "http://127.0.0.1:9000/events"
events = ["Bounce", "Feedback"]
batch_size = 50
max_batch_delay = "250ms"
hmac_secret = "s3cret"

[[webhook]]
name = "audit"
url = "http://[::1]:9001/all"
)toml",
                                         kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->webhooks.size(), 2u);
  EXPECT_EQ(c->webhooks[0].name, "http://127.0.0.1:9000/events");
  EXPECT_EQ(c->webhooks[0].events, (std::vector<std::string>{"Bounce", "Feedback"}));
  EXPECT_EQ(c->webhooks[0].batch_size, 50);
  EXPECT_EQ(c->webhooks[0].max_batch_delay, absl::Milliseconds(250));
  EXPECT_EQ(c->webhooks[0].hmac_secret, "s3cret");
  EXPECT_EQ(c->webhooks[1].name, "audit");
  EXPECT_EQ(c->webhooks[1].batch_size, 100);
  EXPECT_EQ(c->webhooks[1].timeout, absl::Seconds(10));
  EXPECT_EQ(c->webhooks[1].events.size(), 8u);  // every type but Reception
}

}  // namespace
}  // namespace volley::config
