// Config: the [shaping], [egress], [routes] and [dns] sections, and listen ports of 0.
#include <fstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "engine/config/config_test_util.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

TEST(ConfigListenPortZero, ListenAddressesMayAskForAnyFreePort) {
  absl::StatusOr<Config> config = ParseConfig(
      "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n", "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->inject_smtp.listen[0].port, 0);
  EXPECT_EQ(config->http.listen.port, 0);
  // Elsewhere port 0 stays an error.
  absl::StatusOr<Config> bad = ParseConfig(
      "[dns]\nservers = [\"127.0.0.1:0\"]\n[routes]\n\"a.test\" = { host = \"127.0.0.1:0\" }\n",
      "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.toml:2:"), absl::string_view::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("t.toml:4:"), absl::string_view::npos) << bad.status();
}

TEST(ConfigShaping, DefaultAndPerDomainOverridesMergeKeyByKey) {
  // The domain table comes first in the file; it still starts from [shaping.default].
  absl::StatusOr<Config> config = ParseConfig(
      "[shaping.\"Gmail.com\"]\nconnection_limit = 3\ntls = \"required_verify\"\n"
      "[shaping.default]\nconnection_limit = 7\nmax_recipients_per_batch = 50\n"
      "idle_timeout = \"10s\"\nconnect_timeout = \"5s\"\nbanner_timeout = \"6s\"\n"
      "ehlo_timeout = \"7s\"\nmail_from_timeout = \"8s\"\nrcpt_to_timeout = \"9s\"\n"
      "data_timeout = \"11s\"\ndata_dot_timeout = \"12s\"\ntls = \"disabled\"\n"
      "tls_ca_file = \"/etc/ca.pem\"\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const ShapingConfig& d = config->shaping.defaults;
  EXPECT_EQ(d.connection_limit, 7);
  EXPECT_EQ(d.max_recipients_per_batch, 50);
  EXPECT_EQ(d.timeouts.idle, absl::Seconds(10));
  EXPECT_EQ(d.timeouts.connect, absl::Seconds(5));
  EXPECT_EQ(d.timeouts.banner, absl::Seconds(6));
  EXPECT_EQ(d.timeouts.ehlo, absl::Seconds(7));
  EXPECT_EQ(d.timeouts.mail_from, absl::Seconds(8));
  EXPECT_EQ(d.timeouts.rcpt_to, absl::Seconds(9));
  EXPECT_EQ(d.timeouts.data, absl::Seconds(11));
  EXPECT_EQ(d.timeouts.data_dot, absl::Seconds(12));
  EXPECT_EQ(d.tls, TlsPolicy::kDisabled);
  const ShapingConfig g = config->shaping.Resolve("gmail.com", {}, "");
  EXPECT_EQ(g.connection_limit, 3);
  EXPECT_EQ(g.tls, TlsPolicy::kRequiredVerify);
  EXPECT_EQ(g.max_recipients_per_batch, 50);  // inherited
  EXPECT_EQ(g.timeouts.idle, absl::Seconds(10));
  EXPECT_EQ(g.tls_ca_file, "/etc/ca.pem");
  const ShapingConfig other = config->shaping.Resolve("other.example", {}, "");
  EXPECT_EQ(other.connection_limit, 7);
  EXPECT_EQ(other.tls, TlsPolicy::kDisabled);
}

TEST(ConfigShaping, AdaptiveKeys) {
  absl::StatusOr<Config> config = ParseConfig(
      "[shaping.default]\nadaptive_min_connections = 2\nadaptive_decrease_factor = 0.7\n"
      "[shaping.\"slow.example\"]\nadaptive = false\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->shaping.defaults.adaptive);  // on by default
  EXPECT_EQ(config->shaping.defaults.adaptive_min_connections, 2);
  EXPECT_DOUBLE_EQ(config->shaping.defaults.adaptive_decrease_factor, 0.7);
  EXPECT_FALSE(config->shaping.Resolve("slow.example", {}, "").adaptive);
  ExpectOneError("[shaping.default]\nadaptive = \"yes\"\n", 2, "adaptive: expected true or false");
  ExpectOneError("[shaping.default]\nadaptive_decrease_factor = 1.5\n", 2,
                 "adaptive_decrease_factor: expected a number between 0 and 1");
  ExpectOneError("[shaping.default]\nadaptive_min_connections = 0\n", 2,
                 "adaptive_min_connections");
}

TEST(ConfigShaping, BadValuesNameTheirLine) {
  absl::StatusOr<Config> config = ParseConfig(
      "[shaping.default]\ntls = \"maybe\"\nmax_recipients_per_batch = 0\n"
      "[shaping.\"a.example\"]\negress_pool = \"nope\"\nimplicit = 1\n"
      "[shaping.\"b.example\"]\ntls = \"implicit\"\n",
      "t.toml");
  ASSERT_FALSE(config.ok());
  const std::string message(config.status().message());
  EXPECT_NE(message.find("t.toml:2: [shaping.default] tls: \"maybe\" is not one of"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("t.toml:3:"), std::string::npos) << message;
  EXPECT_NE(message.find("t.toml:5: egress_pool \"nope\" is not defined"), std::string::npos)
      << message;
  EXPECT_NE(message.find("t.toml:6: unknown key 'implicit'"), std::string::npos) << message;
  // implicit TLS is for routes only.
  EXPECT_NE(message.find("t.toml:8:"), std::string::npos) << message;
}

TEST(ConfigShaping, RatesTheirDefaultsAndNoLimit) {
  const ShapingConfig defaults;
  EXPECT_EQ(defaults.max_message_rate->ToString(), "100/s");
  EXPECT_EQ(defaults.max_connection_rate->ToString(), "100/m");
  absl::StatusOr<Config> config = ParseConfig(
      "[shaping.default]\nmax_message_rate = \"20/m,max_burst=5\"\n"
      "[shaping.\"bulk.example\"]\nmax_message_rate = \"\"\nmax_connection_rate = \"1,000/h\"\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->shaping.defaults.max_message_rate->ToString(), "20/m,max_burst=5");
  EXPECT_EQ(config->shaping.defaults.max_connection_rate->ToString(), "100/m");
  const ShapingConfig bulk = config->shaping.Resolve("bulk.example", {}, "");
  EXPECT_FALSE(bulk.max_message_rate.has_value());
  EXPECT_EQ(bulk.max_connection_rate->ToString(), "1000/h");
}

TEST(ConfigShaping, BadRatesNameTheirLine) {
  ExpectOneError("[shaping.default]\nmax_message_rate = \"fast\"\n", 2,
                 "[shaping.default] max_message_rate: bad rate \"fast\": missing '/'");
  ExpectOneError("[shaping.default]\n\nmax_message_rate = \"0/s\"\n", 3,
                 "bad rate \"0/s\": the count must be at least 1");
  ExpectOneError("[shaping.\"a.example\"]\nmax_connection_rate = \"10/fortnight\"\n", 2,
                 "[shaping.\"a.example\"] max_connection_rate: bad rate \"10/fortnight\": "
                 "unknown period \"fortnight\"");
  ExpectOneError("[shaping.default]\nmax_connection_rate = 5\n", 2,
                 "expected a rate string like \"100/s\", got an integer");
}

TEST(ConfigEgress, PoolsAndSources) {
  absl::StatusOr<Config> config = ParseConfig(
      "[egress.outbound]\nsources = [{ address = \"127.0.0.2\", ehlo = \"a.example\" },\n"
      "  { address = \"127.0.0.3\", ehlo = \"b.example\", name = \"second\" }]\n"
      "[shaping.default]\negress_pool = \"outbound\"\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const EgressPool& pool = config->egress_pools.at("outbound");
  ASSERT_EQ(pool.sources.size(), 2u);
  EXPECT_EQ(pool.sources[0].name, "127.0.0.2");
  EXPECT_EQ(pool.sources[0].ehlo, "a.example");
  EXPECT_EQ(pool.sources[1].name, "second");
  EXPECT_EQ(config->shaping.defaults.egress_pool, "outbound");
  // The default pool is always there.
  EXPECT_EQ(config->egress_pools.at("default").sources[0].address, "0.0.0.0");
}

TEST(ConfigWarmup, SchedulesAndTheSourcesThatWarmUpOnThem) {
  absl::StatusOr<Config> config = ParseConfig(
      "[egress.default]\nsources = [{ address = \"127.0.0.2\", warmup = \"slow\" },\n"
      "  { address = \"127.0.0.3\", warmup = \"standard\" }, { address = \"127.0.0.4\" }]\n"
      "[warmup.slow]\ndaily = [20, 50, 100]\nhold_above = 0.02\nstep_back_above = 0.1\n"
      "[warmup.fixed]\ndaily = [10, 10]\nhourly = [10, 5]\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::vector<EgressSource>& sources = config->egress_pools.at("default").sources;
  EXPECT_EQ(sources[0].warmup, "slow");
  EXPECT_EQ(sources[1].warmup, "standard");
  EXPECT_EQ(sources[2].warmup, "");
  const WarmupSchedule& slow = config->warmup_schedules.at("slow");
  EXPECT_EQ(slow.daily, (std::vector<int64_t>{20, 50, 100}));
  EXPECT_EQ(slow.hourly, (std::vector<int64_t>{3, 7, 13}));  // an eighth, rounded up
  EXPECT_DOUBLE_EQ(slow.hold_above, 0.02);
  EXPECT_DOUBLE_EQ(slow.step_back_above, 0.1);
  EXPECT_EQ(config->warmup_schedules.at("fixed").hourly, (std::vector<int64_t>{10, 5}));
  // The shipped schedule is there unless a table replaces it.
  const WarmupSchedule& standard = config->warmup_schedules.at("standard");
  EXPECT_EQ(standard.daily.front(), 50);
  EXPECT_EQ(standard.daily.size(), standard.hourly.size());
  absl::StatusOr<Config> replaced = ParseConfig("[warmup.standard]\ndaily = [5]\n", "t.toml");
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_EQ(replaced->warmup_schedules.at("standard").daily, (std::vector<int64_t>{5}));
}

TEST(ConfigBounce, AnOperatorsRulesGoOnTheShippedOnes) {
  absl::StatusOr<Config> plain = ParseConfig("", "t.toml");
  ASSERT_TRUE(plain.ok());
  ASSERT_NE(plain->bounce.rules, nullptr);
  EXPECT_EQ(plain->bounce.rules.get(), &bounce::BounceRules::Shipped());
  const std::string path = absl::StrCat(testing::TempDir(), "/rules.toml");
  std::ofstream(path) << "[codes]\n\"5.1.1\" = \"InactiveMailbox\"\n";
  absl::StatusOr<Config> config =
      ParseConfig(absl::StrCat("[bounce]\nrules = \"", path, "\"\n"), "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bounce.rules_path, path);
  EXPECT_EQ(config->bounce.rules->Classify(smtp::MakeReply(550, "5.1.1", "x")),
            bounce::BounceClass::kInactiveMailbox);
  // The shipped rules still do the rest.
  EXPECT_EQ(config->bounce.rules->Classify(smtp::MakeReply(550, "5.1.2", "x")),
            bounce::BounceClass::kBadDomain);
}

TEST(ConfigBounce, SuppressClassesAndLifetime) {
  absl::StatusOr<Config> plain = ParseConfig("", "t.toml");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->bounce.suppress_classes.size(), 3u);
  EXPECT_EQ(plain->bounce.suppress_for, absl::InfiniteDuration());
  absl::StatusOr<Config> config = ParseConfig(
      "[bounce]\nsuppress_classes = [\"InvalidRecipient\", \"SpamBlock\"]\n"
      "suppress_for = \"180d\"\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bounce.suppress_classes,
            (std::vector<bounce::BounceClass>{bounce::BounceClass::kInvalidRecipient,
                                              bounce::BounceClass::kSpamBlock}));
  EXPECT_EQ(config->bounce.suppress_for, absl::Hours(24 * 180));
  absl::StatusOr<Config> none = ParseConfig("[bounce]\nsuppress_classes = []\n", "t.toml");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->bounce.suppress_classes.empty());
}

TEST(ConfigEgress, Errors) {
  absl::StatusOr<Config> config = ParseConfig(
      "[egress.p]\nsources = [{ address = \"host.example\" }, { ehlo = \"x.example\" },\n"
      "  { address = \"10.0.0.1\", color = \"red\" }]\n[egress.q]\nsources = []\n",
      "t.toml");
  ASSERT_FALSE(config.ok());
  const std::string message(config.status().message());
  EXPECT_NE(message.find("t.toml:2: [egress.p] sources address: \"host.example\" is not a numeric"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("t.toml:2: [egress.p] sources: missing key 'address'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("t.toml:3: unknown key 'color'"), std::string::npos) << message;
  EXPECT_NE(message.find("t.toml:5: [egress.q] sources: expected a non-empty array"),
            std::string::npos)
      << message;
}

TEST(ConfigRoutes, TlsAndAuth) {
  absl::StatusOr<Config> config = ParseConfig(
      "[routes]\n\"smart.example\" = { host = \"127.0.0.1\", tls = \"implicit\", "
      "auth_user = \"u\", auth_password = \"p\" }\n"
      "\"plain.example\" = { host = \"127.0.0.1:2600\", auth_user = \"u\", "
      "auth_password = \"p\", allow_auth_without_tls = true, tls = \"disabled\" }\n"
      "\"other.example\" = { host = \"127.0.0.1\" }\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const Route& smart = config->routes.at("smart.example");
  EXPECT_EQ(smart.tls, TlsPolicy::kImplicit);
  EXPECT_EQ(smart.host.port, 465);  // implicit TLS defaults to submissions' port
  EXPECT_EQ(smart.auth_user, "u");
  EXPECT_EQ(smart.auth_password, "p");
  EXPECT_FALSE(smart.allow_auth_without_tls);
  const Route& plain = config->routes.at("plain.example");
  EXPECT_EQ(plain.tls, TlsPolicy::kDisabled);
  EXPECT_TRUE(plain.allow_auth_without_tls);
  EXPECT_FALSE(config->routes.at("other.example").tls.has_value());
  EXPECT_EQ(config->routes.at("other.example").host.port, 25);

  absl::StatusOr<Config> bad = ParseConfig(
      "[routes]\n\"a.example\" = { host = \"127.0.0.1\", auth_user = \"u\" }\n"
      "\"b.example\" = { host = \"127.0.0.1\", tls = \"sometimes\" }\n"
      "\"c.example\" = { host = \"127.0.0.1\", allow_auth_without_tls = \"yes\" }\n",
      "t.toml");
  ASSERT_FALSE(bad.ok());
  const std::string message(bad.status().message());
  EXPECT_NE(message.find("t.toml:2: [routes.\"a.example\"]: auth_user and auth_password go "
                         "together"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("t.toml:3:"), std::string::npos) << message;
  EXPECT_NE(message.find("t.toml:4:"), std::string::npos) << message;
}

TEST(ConfigDns, ResolverKeys) {
  absl::StatusOr<Config> config = ParseConfig(
      "[dns]\nip_lookup_strategy = \"ipv6_only\"\nmin_ttl = \"10s\"\nmax_ttl = \"2h\"\n"
      "serve_stale = \"30m\"\ncache_size = 500\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->dns.ip_lookup_strategy, IpLookupStrategy::kIpv6Only);
  EXPECT_EQ(config->dns.min_ttl, absl::Seconds(10));
  EXPECT_EQ(config->dns.max_ttl, absl::Hours(2));
  EXPECT_EQ(config->dns.serve_stale, absl::Minutes(30));
  EXPECT_EQ(config->dns.cache_size, 500);
  EXPECT_EQ(Config::Defaults().dns.ip_lookup_strategy, IpLookupStrategy::kIpv4ThenIpv6);
  EXPECT_EQ(Config::Defaults().dns.serve_stale, absl::Hours(1));

  absl::StatusOr<Config> bad = ParseConfig(
      "[dns]\nip_lookup_strategy = \"both\"\nmin_ttl = \"2h\"\nmax_ttl = \"1h\"\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  const std::string message(bad.status().message());
  EXPECT_NE(message.find("t.toml:2: [dns] ip_lookup_strategy"), std::string::npos) << message;
  EXPECT_NE(message.find("t.toml:4: [dns] min_ttl must not be longer than max_ttl"),
            std::string::npos)
      << message;
}

TEST(ConfigSections, SiteMetricsLimit) {
  EXPECT_EQ(Config::Defaults().http.site_metrics_limit, 100);
  absl::StatusOr<Config> config = ParseConfig("[http]\nsite_metrics_limit = 0\n", "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http.site_metrics_limit, 0);
  ExpectOneError("[http]\n\nsite_metrics_limit = -1\n", 3, "[http] site_metrics_limit");
  ExpectOneError("[http]\nsite_metrics_limit = \"10\"\n", 2, "[http] site_metrics_limit");
}

}  // namespace
}  // namespace volley::config
