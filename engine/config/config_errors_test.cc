// Config: each kind of error, with the line it names, and the keys not supported yet.
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/config/config_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using ::testing::StartsWith;

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

TEST(ConfigErrors, WarmupSchedules) {
  ExpectOneError("[egress.a]\nsources = [{ address = \"127.0.0.2\", warmup = \"slow\" }]\n", 2,
                 "warm-up schedule \"slow\" is not defined (no [warmup.slow] table)");
  ExpectOneError("[warmup.slow]\nhourly = [1]\n", 1, "[warmup.slow]: missing key 'daily'");
  ExpectOneError("[warmup.slow]\ndaily = []\n", 2,
                 "[warmup.slow] daily: expected an array of 1 to 366 message counts, one per day");
  ExpectOneError("[warmup.slow]\ndaily = [10, 0]\n", 2,
                 "[warmup.slow] daily: 0 is out of range (must be at least 1)");
  ExpectOneError("[warmup.slow]\ndaily = [10, 20]\nhourly = [5]\n", 3,
                 "[warmup.slow] hourly: has 1 days but daily has 2");
  ExpectOneError("[warmup.slow]\ndaily = [10, 20]\nhourly = [5, 30]\n", 3,
                 "[warmup.slow] hourly: day 2 allows 30 an hour but only 20 a day");
  ExpectOneError("[warmup.slow]\ndaily = [10]\nhold_above = 1.5\n", 3,
                 "[warmup.slow] hold_above: expected a rate from 0 to 1, such as 0.05 for 5%");
  ExpectOneError("[warmup.slow]\ndaily = [10]\nhold_above = 0.3\nstep_back_above = 0.2\n", 4,
                 "[warmup.slow] step_back_above (0.2) must be above hold_above (0.3)");
  ExpectOneError("[warmup.slow]\ndaily = [10]\ncomplaint_rate = 0.1\n", 3,
                 "unknown key 'complaint_rate' in [warmup.slow]");
  ExpectOneError(
      "[egress.a]\nsources = [{ address = \"127.0.0.2\", warmup = \"standard\" }]\n"
      "[egress.b]\nsources = [{ address = \"127.0.0.2\" }]\n",
      4, "egress source \"127.0.0.2\" has warmup \"\" here but \"standard\" in [egress.a]");
}

TEST(ConfigErrors, Webhooks) {
  ExpectOneError("[[webhook]]\nevents = [\"Bounce\"]\n", 1, "[[webhook]]: url is required");
  ExpectOneError("[[webhook]]\nurl = \"https://h.test/e\"\n", 2,
                 "[[webhook]] url \"https://h.test/e\": https is not supported yet");
  ExpectOneError("[[webhook]]\nurl = \"http://h.test/e\"\nevents = [\"Bounced\"]\n", 3,
                 "[[webhook]] events: \"Bounced\" is not a record type");
  ExpectOneError("[[webhook]]\nurl = \"http://h.test/e\"\nbatch_size = 0\n", 3,
                 "[[webhook]] batch_size");
  ExpectOneError("[[webhook]]\nurl = \"http://h.test/e\"\ncolour = 1\n", 3, "unknown key 'colour'");
  ExpectOneError("[[webhook]]\nurl = \"http://h.test/e\"\n[[webhook]]\nurl = \"http://h.test/e\"\n",
                 3, "a second webhook named \"http://h.test/e\"");
  ExpectOneError("webhook = 1\n", 1, "[[webhook]]: expected an array of tables");
}

TEST(ConfigErrors, DeliveryNotices) {
  ExpectOneError("[delivery]\ndsn = \"yes\"\n", 2,
                 "[delivery] dsn: expected true or false, got a string");
  ExpectOneError("[delivery]\ndelay_dsn_after = \"soon\"\n", 2,
                 "[delivery] delay_dsn_after: bad duration");
  ExpectOneError("[delivery]\ndelay_dsn_after = \"0s\"\n", 2,
                 "[delivery] delay_dsn_after: must be longer than zero");
}

TEST(ConfigErrors, BounceRules) {
  ExpectOneError("[bounce]\nrules = \"/nonexistent/rules.toml\"\n", 2,
                 "[bounce] rules: cannot read \"/nonexistent/rules.toml\": No such file");
  ExpectOneError("[bounce]\nverp_domain = \"not a host\"\n", 2,
                 "[bounce] verp_domain: \"not a host\" is not a valid host name");
  ExpectOneError("[bounce]\nverp_secret = \"short\"\n", 2,
                 "[bounce] verp_secret: at least 16 characters");
  ExpectOneError("[bounce]\nsuppress_classes = [\"InvalidRecipient\", \"Gone\"]\n", 2,
                 "[bounce] suppress_classes: \"Gone\" is not one of the 29 bounce classes");
  ExpectOneError("[bounce]\nsuppress_classes = \"InvalidRecipient\"\n", 2,
                 "[bounce] suppress_classes: expected an array of bounce class names");
  ExpectOneError("[bounce]\nsuppress_for = \"forever\"\n", 2,
                 "[bounce] suppress_for: bad duration");
  const std::string path = absl::StrCat(testing::TempDir(), "/bad_rules.toml");
  std::ofstream(path) << "[codes]\n\"5.1.1\" = \"Nope\"\n";
  ExpectOneError(absl::StrCat("\n[bounce]\nrules = \"", path, "\"\n"), 3,
                 absl::StrCat("[bounce] rules: ", path, ":2: [codes] \"5.1.1\": expected one of"));
}

TEST(ConfigErrors, UnknownTopLevelKey) {
  ExpectOneError("threads = 4\n", 1, "unknown key 'threads' at the top level");
}

TEST(ConfigErrors, ShapingKeyOutsideDefault) {
  ExpectOneError("[shaping]\nconnection_limit = 1\n", 2,
                 "unknown key 'connection_limit' in [shaping] (default limits go in "
                 "[shaping.default]; [shaping] itself takes only default_automation)");
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

TEST(ConfigErrors, BadControlHeaderNamesAndDefaults) {
  ExpectOneError("[inject.smtp]\ntenant_header = \"X Tenant\"\n", 2,
                 "[inject.smtp] tenant_header: \"X Tenant\" is not a header field name");
  ExpectOneError("[inject.smtp]\n\ncampaign_header = \"X-Campaign:\"\n", 3,
                 "[inject.smtp] campaign_header: \"X-Campaign:\" is not a header field name");
  ExpectOneError("[inject.smtp]\npriority_header = \"\"\n", 2,
                 "[inject.smtp] priority_header: \"\" is not a header field name");
  ExpectOneError("[inject.smtp]\npriority_header = 5\n", 2,
                 "[inject.smtp] priority_header: expected a string, got an integer");
  ExpectOneError("[inject.smtp]\ndefault_tenant = \"acme corp\"\n", 2,
                 "[inject.smtp] default_tenant: \"acme corp\" is not 1 to 64 of the characters "
                 "A-Z a-z 0-9 . _ : @ + - (or \"\" for none)");
  ExpectOneError(absl::StrCat("[inject.smtp]\ndefault_campaign = \"", std::string(65, 'c'), "\"\n"),
                 2, "[inject.smtp] default_campaign: \"cccc");
  ExpectOneError("[inject.smtp]\ndefault_priority = \"urgent\"\n", 2,
                 "[inject.smtp] default_priority: \"urgent\" is not a priority (high, normal, "
                 "bulk or a digit 0 to 9)");
  ExpectOneError("[inject.smtp]\ndefault_priority = 10\n", 2,
                 "[inject.smtp] default_priority: 10 is out of range (must be from 0 to 9)");
  ExpectOneError("[inject.smtp]\ndefault_priority = true\n", 2,
                 "[inject.smtp] default_priority: expected a priority (\"high\", \"normal\", "
                 "\"bulk\" or 0 to 9), got a boolean");
}

TEST(ConfigErrors, ControlHeaderNamesMustDiffer) {
  // The written one is blamed when it takes another's default name, in any case.
  ExpectOneError("[inject.smtp]\nmax_recipients = 5\ncampaign_header = \"x-volley-tenant\"\n", 3,
                 "[inject.smtp] campaign_header: \"x-volley-tenant\" is also the tenant_header "
                 "(header names are compared case-insensitively)");
  // Both written: the later line.
  ExpectOneError("[inject.smtp]\npriority_header = \"X-P\"\n\ntenant_header = \"X-P\"\n", 4,
                 "[inject.smtp] tenant_header: \"X-P\" is also the priority_header");
  // Swapping two names is fine.
  const absl::StatusOr<Config> c = ParseConfig(
      "[inject.smtp]\ntenant_header = \"X-Volley-Campaign\"\n"
      "campaign_header = \"X-Volley-Tenant\"\n",
      kOrigin);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->inject_smtp.tenant_header, "X-Volley-Campaign");
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
require_tls = "yes"

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
  EXPECT_EQ(errors[6],
            "t.toml:12: [inject.smtp] require_tls: expected true or false, got a string");
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
    ::testing::Values(UnsupportedCase{"[dkim.\"example.com\"]\nselector = \"s1\"\n", 1, "[dkim]"},
                      UnsupportedCase{"[dkim.\"example.org\"]\nselector = \"s2\"\n", 1, "[dkim]"}));

}  // namespace
}  // namespace volley::config
