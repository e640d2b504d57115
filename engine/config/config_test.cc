#include "engine/config/config.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr absl::string_view kOrigin = "t.toml";

std::vector<std::string> Errors(const absl::StatusOr<Config>& result) {
  if (result.ok()) return {};
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(result.status().message(), '\n');
}

// Expects exactly one error, at `line`, whose message contains `text`.
void ExpectOneError(absl::string_view toml, int line, absl::string_view text) {
  SCOPED_TRACE(toml);
  const absl::StatusOr<Config> result = ParseConfig(toml, kOrigin);
  ASSERT_FALSE(result.ok());
  const std::vector<std::string> errors = Errors(result);
  ASSERT_THAT(errors, SizeIs(1)) << result.status().message();
  EXPECT_THAT(errors[0], StartsWith(absl::StrCat(kOrigin, ":", line, ": ")));
  EXPECT_THAT(errors[0], HasSubstr(std::string(text)));
}

std::vector<std::string> CidrStrings(const std::vector<Cidr>& cidrs) {
  std::vector<std::string> out;
  for (const Cidr& c : cidrs) out.push_back(c.ToString());
  return out;
}

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
  EXPECT_EQ(c.http.listen, (HostPort{"127.0.0.1", 8025}));
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_EQ(c.dns.timeout, absl::Seconds(5));
  EXPECT_EQ(c.delivery.port, 25);
  EXPECT_EQ(c.delivery.retry_initial, absl::Minutes(5));
  EXPECT_EQ(c.delivery.retry_max, absl::Hours(1));
  EXPECT_EQ(c.delivery.max_age, absl::Hours(24 * 5));
  EXPECT_EQ(c.shaping_default.connection_limit, 10);
  EXPECT_EQ(c.shaping_default.max_deliveries_per_connection, 100);
  EXPECT_TRUE(c.routes.empty());
}

// The delivery client's timeouts come from here alone (RFC 5321 4.5.3.2 and
// docs/configuration.md).
TEST(ConfigDefaults, SmtpTimeoutsAreTheDocumentedOnes) {
  const SmtpTimeouts& t = Config::Defaults().shaping_default.timeouts;
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
  EXPECT_EQ(c->http.listen, (HostPort{"::1", 8080}));
  EXPECT_THAT(c->dns.servers, ElementsAre(HostPort{"127.0.0.1", 5353}, HostPort{"10.0.0.2", 53},
                                          HostPort{"::1", 53}));
  EXPECT_EQ(c->dns.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(c->delivery.port, 2600);
  EXPECT_EQ(c->delivery.retry_initial, absl::Seconds(30));
  EXPECT_EQ(c->delivery.retry_max, absl::Minutes(90));
  EXPECT_EQ(c->delivery.max_age, absl::Hours(48));
  EXPECT_EQ(c->shaping_default.connection_limit, 3);
  EXPECT_EQ(c->shaping_default.max_deliveries_per_connection, 7);
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

// Each error kind, with the line it must name.
TEST(ConfigErrors, UnknownKeyInTable) {
  ExpectOneError("[server]\nthreads = 2\nthread = 2\n", 3, "unknown key 'thread' in [server]");
}

TEST(ConfigErrors, UnknownTable) {
  ExpectOneError("\n[serverr]\nthreads = 2\n", 2, "unknown table [serverr]");
}

TEST(ConfigErrors, UnknownSubTable) {
  ExpectOneError("[inject.http]\nlisten = \"127.0.0.1:1\"\n", 1, "unknown table [inject.http]");
  ExpectOneError("[shaping.defualt]\nconnection_limit = 1\n", 1, "unknown table [shaping.defualt]");
}

TEST(ConfigErrors, UnknownTopLevelKey) {
  ExpectOneError("threads = 4\n", 1, "unknown key 'threads' at the top level");
}

TEST(ConfigErrors, ShapingKeyOutsideDefault) {
  ExpectOneError("[shaping]\nconnection_limit = 1\n", 2,
                 "unknown key 'connection_limit' in [shaping] (default limits go in "
                 "[shaping.default])");
}

TEST(ConfigErrors, WrongTypes) {
  ExpectOneError("[server]\nthreads = \"four\"\n", 2,
                 "[server] threads: expected an integer, got a string");
  ExpectOneError("[server]\nhostname = 7\n", 2,
                 "[server] hostname: expected a string, got an integer");
  ExpectOneError("[dns]\ntimeout = 5\n", 2,
                 "[dns] timeout: expected a duration string like \"30s\", got an integer");
  ExpectOneError("[inject.smtp]\nmax_message_size = 1.5\n", 2,
                 "[inject.smtp] max_message_size: expected a size");
  ExpectOneError("[inject.smtp]\nlisten = 25\n", 2,
                 "[inject.smtp] listen: expected a string or an array of strings");
  ExpectOneError("[inject.smtp]\nrelay_networks = \"10.0.0.0/8\"\n", 2,
                 "[inject.smtp] relay_networks: expected an array of CIDR strings, got a string");
  ExpectOneError("[dns]\nservers = [\n  \"127.0.0.1\",\n  53,\n]\n", 4,
                 "[dns] servers: expected a string, got an integer");
  ExpectOneError("server = 1\n", 1, "[server]: expected a table, got an integer");
  ExpectOneError("[routes]\n\"a.example\" = \"127.0.0.1:25\"\n", 2,
                 "expected an inline table like { host = ");
  ExpectOneError("[delivery]\nport = true\n", 2,
                 "[delivery] port: expected an integer, got a boolean");
}

TEST(ConfigErrors, BadDuration) {
  ExpectOneError("[delivery]\n\nretry_max = \"5 minutes\"\n", 3,
                 "[delivery] retry_max: bad duration \"5 minutes\"");
  ExpectOneError("[delivery]\nmax_age = \"0s\"\n", 2,
                 "[delivery] max_age: must be longer than zero");
}

TEST(ConfigErrors, BadSize) {
  ExpectOneError("[inject.smtp]\nmax_message_size = \"12XB\"\n", 2,
                 "[inject.smtp] max_message_size: bad size \"12XB\": unknown unit \"XB\"");
  ExpectOneError("[inject.smtp]\nmax_message_size = 0\n", 2, "must be larger than zero");
  ExpectOneError("[server]\nspool_min_free = -1\n", 2,
                 "[server] spool_min_free: must not be negative");
  ExpectOneError("[server]\nspool_min_free = \"lots\"\n", 2, "[server] spool_min_free: bad size");
}

TEST(ConfigErrors, BadPort) {
  ExpectOneError("[delivery]\nport = 0\n", 2,
                 "[delivery] port: 0 is out of range (must be from 1 to 65535)");
  ExpectOneError("[delivery]\nport = 65536\n", 2, "[delivery] port: 65536 is out of range");
}

TEST(ConfigErrors, BadCidr) {
  ExpectOneError("[inject.smtp]\nrelay_networks = [\"127.0.0.0/8\",\n  \"10.0.0.0/33\"]\n", 3,
                 "bad CIDR \"10.0.0.0/33\": prefix length must be a number from 0 to 32");
}

TEST(ConfigErrors, BadHostPort) {
  ExpectOneError("[http]\nlisten = \"127.0.0.1\"\n", 2, "missing port");
  ExpectOneError("[http]\nlisten = \"127.0.0.1:http\"\n", 2,
                 "port \"http\" is not a number from 0 to 65535");
  ExpectOneError("[http]\nlisten = \"127.0.0.1:70000\"\n", 2, "not a number from 0 to 65535");
  ExpectOneError("[dns]\nservers = [\"127.0.0.1:0\"]\n", 2, "not a number from 1 to 65535");
  ExpectOneError("[inject.smtp]\nlisten = [\"127.0.0.1:25\", \"localhost:26\"]\n", 2,
                 "\"localhost:26\": the host must be a numeric IP address");
  ExpectOneError("[inject.smtp]\nlisten = [\"127.0.0.1:25\", \"127.0.0.1:25\"]\n", 2,
                 "127.0.0.1:25 is listed twice");
  ExpectOneError("[routes]\n\"a.example\" = { host = \"::1\" }\n", 2,
                 "write IPv6 addresses as [address]");
  ExpectOneError("[routes]\n\"a.example\" = { host = \"bad host:25\" }\n", 2,
                 "not a valid IP address or host name");
}

TEST(ConfigErrors, BadThreads) {
  ExpectOneError("[server]\nthreads = -1\n", 2,
                 "[server] threads: -1 is out of range (must be from 0 to 1024)");
}

TEST(ConfigErrors, OtherBadValues) {
  ExpectOneError("[inject.smtp]\nmax_recipients = 0\n", 2,
                 "[inject.smtp] max_recipients: 0 is out of range (must be at least 1)");
  ExpectOneError("[shaping.default]\nconnection_limit = 0\n", 2, "must be at least 1");
  ExpectOneError("[server]\nhostname = \"not a name\"\n", 2, "is not a valid host name");
  ExpectOneError("[server]\nspool = \"\"\n", 2, "[server] spool: must not be empty");
}

TEST(ConfigErrors, RetryInitialAboveRetryMax) {
  ExpectOneError("[delivery]\nretry_max = \"10m\"\nretry_initial = \"1h\"\n", 3,
                 "[delivery] retry_initial (1h) must not be longer than retry_max (10m)");
  // Only retry_max written: the error names its line.
  ExpectOneError("[delivery]\nretry_max = \"1m\"\n", 2, "must not be longer than retry_max");
}

TEST(ConfigErrors, HttpListenClashesWithSmtp) {
  ExpectOneError("[inject.smtp]\nlisten = \"127.0.0.1:8025\"\n", 2,
                 "[http] listen: 127.0.0.1:8025 is also an [inject.smtp] listen address");
}

TEST(ConfigErrors, SyntaxErrorNamesLineAndColumn) {
  ExpectOneError("[server]\nthreads = 4\nhostname = \"a\n", 3, "TOML syntax error at column");
  const absl::StatusOr<Config> c = ParseConfig("a = 1\nb = [1,\n2 3]\n", kOrigin);
  EXPECT_THAT(Errors(c), ElementsAre(StartsWith("t.toml:3: TOML syntax error at column 3: ")));
}

TEST(ConfigErrors, DuplicateTomlKeyIsASyntaxError) {
  ExpectOneError("[server]\nthreads = 1\nthreads = 2\n", 3, "TOML syntax error");
}

TEST(ConfigErrors, DuplicateRouteDomainsIgnoringCase) {
  ExpectOneError(R"toml([routes]
"relay.example" = { host = "127.0.0.1:2600" }
"Relay.Example" = { host = "127.0.0.1:2601" }
)toml",
                 3, "duplicate route for domain 'relay.example' (first at line 2");
}

TEST(ConfigErrors, RouteProblems) {
  ExpectOneError("[routes]\n\"a.example\" = { }\n", 2,
                 "[routes.\"a.example\"]: missing key 'host'");
  ExpectOneError("[routes]\n\"a.example\" = { host = \"127.0.0.1\", hots = 1 }\n", 2,
                 "unknown key 'hots' in [routes.\"a.example\"]");
  ExpectOneError("[routes]\n\"*.example\" = { host = \"127.0.0.1\" }\n", 2,
                 "\"*.example\" is not a valid domain name");
}

TEST(ConfigErrors, AllErrorsReportedTogetherInFileOrder) {
  const absl::StatusOr<Config> c = ParseConfig(R"toml([server]
threads = -1
colour = "blue"

[delivery]
port = 0
retry_initial = "5 minutes"

[inject.smtp]
max_message_size = "12XB"
relay_networks = ["10.0.0.0/33"]
auth_file = "users.txt"

[http]
listen = "127.0.0.1"
)toml",
                                               kOrigin);
  const std::vector<std::string> errors = Errors(c);
  ASSERT_THAT(errors, SizeIs(8)) << c.status();
  EXPECT_THAT(errors[0], StartsWith("t.toml:2: [server] threads: -1 is out of range"));
  EXPECT_THAT(errors[1], StartsWith("t.toml:3: unknown key 'colour' in [server]"));
  EXPECT_THAT(errors[2], StartsWith("t.toml:6: [delivery] port: 0 is out of range"));
  EXPECT_THAT(errors[3], StartsWith("t.toml:7: [delivery] retry_initial: bad duration"));
  EXPECT_THAT(errors[4], StartsWith("t.toml:10: [inject.smtp] max_message_size: bad size"));
  EXPECT_THAT(errors[5], StartsWith("t.toml:11: [inject.smtp] relay_networks: bad CIDR"));
  EXPECT_EQ(errors[6], "t.toml:12: [inject.smtp] auth_file: not supported yet by this version");
  EXPECT_THAT(errors[7], StartsWith("t.toml:15: [http] listen: bad address \"127.0.0.1\""));
}

struct UnsupportedCase {
  const char* toml;
  int line;
  const char* message;
};

class NotSupportedYet : public ::testing::TestWithParam<UnsupportedCase> {};

TEST_P(NotSupportedYet, IsRejectedWithItsLine) {
  ExpectOneError(GetParam().toml, GetParam().line,
                 absl::StrCat(GetParam().message, ": not supported yet by this version"));
}

INSTANTIATE_TEST_SUITE_P(
    Keys, NotSupportedYet,
    ::testing::Values(
        UnsupportedCase{"[inject.smtp]\nauth_file = \"users.txt\"\n", 2, "[inject.smtp] auth_file"},
        UnsupportedCase{"[inject.smtp]\ntls_cert = \"c.pem\"\n", 2, "[inject.smtp] tls_cert"},
        UnsupportedCase{"[inject.smtp]\n\ntls_key = \"k.pem\"\n", 3, "[inject.smtp] tls_key"},
        UnsupportedCase{"[http]\nadmin_token = \"x\"\n", 2, "[http] admin_token"},
        UnsupportedCase{"[http]\nsite_metrics_limit = 10\n", 2, "[http] site_metrics_limit"},
        UnsupportedCase{"[delivery]\ndsn = true\n", 2, "[delivery] dsn"},
        UnsupportedCase{"[shaping.default]\nmax_message_rate = \"100/s\"\n", 2,
                        "[shaping.default] max_message_rate"},
        UnsupportedCase{"[shaping.default]\nmax_connection_rate = \"100/m\"\n", 2,
                        "[shaping.default] max_connection_rate"},
        UnsupportedCase{"[shaping.site.\"*.mx.example.net\"]\nconnection_limit = 2\n", 1,
                        "[shaping.site.*] (per-site shaping)"},
        UnsupportedCase{"[dkim.\"example.com\"]\nselector = \"s1\"\n", 1, "[dkim]"},
        UnsupportedCase{"[dkim.\"example.org\"]\nselector = \"s2\"\n", 1, "[dkim]"}));

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

TEST(ParseDurationValue, Valid) {
  const struct {
    const char* text;
    absl::Duration want;
  } kCases[] = {
      {"500ms", absl::Milliseconds(500)},
      {"30s", absl::Seconds(30)},
      {"5m", absl::Minutes(5)},
      {"2h", absl::Hours(2)},
      {"3d", absl::Hours(72)},
      {"1h30m", absl::Minutes(90)},
      {"1d2h3m4s5ms",
       absl::Hours(26) + absl::Minutes(3) + absl::Seconds(4) + absl::Milliseconds(5)},
      {"0s", absl::ZeroDuration()},
      {"90m", absl::Minutes(90)},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<absl::Duration> d = ParseDurationValue(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(ParseDurationValue, Invalid) {
  for (const char* text :
       {"", "5", "5 minutes", "5minutes", "m", "-5s", "+5s", "1.5h", "5S", "30m1h", "1h1h",
        "1h 30m", " 5s", "5s ", "99999999999999999999d", "200000000000d"}) {
    absl::StatusOr<absl::Duration> d = ParseDurationValue(text);
    EXPECT_FALSE(d.ok()) << "\"" << text << "\" gave " << *d;
    if (!d.ok()) {
      EXPECT_THAT(std::string(d.status().message()),
                  StartsWith(absl::StrCat("bad duration \"", text, "\"")));
    }
  }
}

TEST(ParseSizeValue, Valid) {
  const struct {
    const char* text;
    uint64_t want;
  } kCases[] = {
      {"1000", 1000},
      {"0", 0},
      {"512B", 512},
      {"10KB", 10'000},
      {"10MB", 10'000'000},
      {"2GB", 2'000'000'000},
      {"512KiB", 512 * 1024},
      {"25MiB", 25 * 1024 * 1024},
      {"1GiB", uint64_t{1} << 30},
      {"25mib", 25 * 1024 * 1024},
      {"18446744073709551615", 18446744073709551615u},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<uint64_t> s = ParseSizeValue(c.text);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.status();
    EXPECT_EQ(*s, c.want) << c.text;
  }
}

TEST(ParseSizeValue, Invalid) {
  for (const char* text : {"", "12XB", "MiB", "-1", "1.5MiB", "25 MiB", "25MiBs", "1TB",
                           "18446744073709551616", "17179869184GiB"}) {
    absl::StatusOr<uint64_t> s = ParseSizeValue(text);
    EXPECT_FALSE(s.ok()) << "\"" << text << "\" gave " << *s;
  }
}

TEST(ParseHostPort, Forms) {
  EXPECT_EQ(*ParseHostPort("127.0.0.1:25", std::nullopt), (HostPort{"127.0.0.1", 25}));
  EXPECT_EQ(*ParseHostPort("[::1]:25", std::nullopt), (HostPort{"::1", 25}));
  EXPECT_EQ(*ParseHostPort("mx.example.com:2525", std::nullopt),
            (HostPort{"mx.example.com", 2525}));
  EXPECT_EQ(*ParseHostPort("10.0.0.1", 53), (HostPort{"10.0.0.1", 53}));
  EXPECT_EQ(*ParseHostPort("[2001:db8::1]", 53), (HostPort{"2001:db8::1", 53}));
  EXPECT_EQ(*ParseHostPort("2001:db8::1", 53), (HostPort{"2001:db8::1", 53}));
  EXPECT_EQ(*ParseHostPort("name", 25), (HostPort{"name", 25}));
}

TEST(ParseHostPort, Errors) {
  for (const char* text :
       {"", ":25", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:+25", "[::1]", "[::1", "[::1]25", "[127.0.0.1]:25", "a:b:c", "::1",
        "999.0.0.1:25", "bad name:25", "-x.example:25", "a..b:25"}) {
    EXPECT_FALSE(ParseHostPort(text, std::nullopt).ok()) << text;
  }
}

TEST(HostPort, ToStringBracketsIpv6) {
  EXPECT_EQ((HostPort{"127.0.0.1", 25}).ToString(), "127.0.0.1:25");
  EXPECT_EQ((HostPort{"::1", 25}).ToString(), "[::1]:25");
  EXPECT_EQ((HostPort{"mx.example", 2525}).ToString(), "mx.example:2525");
}

TEST(Cidr, ParseAndMaskHostBits) {
  EXPECT_EQ(ParseCidr("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseCidr("192.168.1.7")->ToString(), "192.168.1.7/32");
  EXPECT_EQ(ParseCidr("2001:db8::1/32")->ToString(), "2001:db8::/32");
  EXPECT_EQ(ParseCidr("10.255.255.255/12")->ToString(), "10.240.0.0/12");
  EXPECT_EQ(ParseCidr("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(ParseCidr("::/0")->ToString(), "::/0");
  for (const char* text : {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0/8",
                           "example.com/8", "10.0.0.0/8/8", "10.0.0.0/ 8", "[::1]/128"}) {
    EXPECT_FALSE(ParseCidr(text).ok()) << text;
  }
}

TEST(Cidr, Contains) {
  const struct {
    const char* cidr;
    const char* address;
    bool want;
  } kCases[] = {
      {"127.0.0.0/8", "127.0.0.1", true},
      {"127.0.0.0/8", "127.255.255.255", true},
      {"127.0.0.0/8", "128.0.0.1", false},
      {"127.0.0.0/8", "::ffff:127.0.0.1", true},
      {"127.0.0.0/8", "::ffff:10.0.0.1", false},
      {"127.0.0.0/8", "::1", false},
      {"127.0.0.0/8", "::127.0.0.1", false},  // IPv4-compatible, not mapped
      {"10.240.0.0/12", "10.250.1.1", true},
      {"10.240.0.0/12", "10.239.255.255", false},
      {"192.168.1.7", "192.168.1.7", true},
      {"192.168.1.7", "192.168.1.8", false},
      {"0.0.0.0/0", "8.8.8.8", true},
      {"0.0.0.0/0", "::ffff:8.8.8.8", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"::1/128", "::1", true},
      {"::1/128", "::2", false},
      {"::1/128", "127.0.0.1", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8::/33", "2001:db8:8000::1", false},
      {"2001:db8::/33", "2001:db8:7fff::1", true},
      {"::/0", "2001:db8::1", true},
      {"::ffff:10.0.0.0/104", "10.1.2.3", true},
      {"::ffff:10.0.0.0/104", "11.1.2.3", false},
      {"127.0.0.0/8", "not an address", false},
      {"127.0.0.0/8", "", false},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<Cidr> cidr = ParseCidr(c.cidr);
    ASSERT_TRUE(cidr.ok()) << c.cidr;
    EXPECT_EQ(cidr->Contains(c.address), c.want) << c.cidr << " contains " << c.address;
  }
}

}  // namespace
}  // namespace volley::config

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

}  // namespace
}  // namespace volley::config

namespace volley::config {
namespace {

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
  const ShapingConfig& d = config->shaping_default;
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
  const ShapingConfig& g = config->ShapingFor("gmail.com");
  EXPECT_EQ(g.connection_limit, 3);
  EXPECT_EQ(g.tls, TlsPolicy::kRequiredVerify);
  EXPECT_EQ(g.max_recipients_per_batch, 50);  // inherited
  EXPECT_EQ(g.timeouts.idle, absl::Seconds(10));
  EXPECT_EQ(g.tls_ca_file, "/etc/ca.pem");
  EXPECT_EQ(&config->ShapingFor("other.example"), &config->shaping_default);
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
  EXPECT_EQ(config->shaping_default.egress_pool, "outbound");
  // The default pool is always there.
  EXPECT_EQ(config->egress_pools.at("default").sources[0].address, "0.0.0.0");
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

}  // namespace
}  // namespace volley::config

namespace volley::config {
namespace {

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

}  // namespace
}  // namespace volley::config
