// [inject], [inject.smtp] and [[inject.smtp.listener]]: the listener tables, their defaults,
// what follows from what, and the settings that contradict each other.
#include "engine/config/inject_section.h"

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config/config.h"
#include "engine/config/config_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

absl::StatusOr<Config> Parse(absl::string_view toml) { return ParseConfig(toml, kOrigin); }

TEST(InjectSectionTest, DefaultsAreOnePlainListener) {
  const Config config = Config::Defaults();
  ASSERT_THAT(config.smtp_listeners, SizeIs(1));
  const SmtpListenerConfig& l = config.smtp_listeners[0];
  EXPECT_EQ(l.name, "smtp");
  EXPECT_EQ(l.listen[0].ToString(), "127.0.0.1:2525");
  EXPECT_EQ(l.tls, SmtpListenerTls::kNone);
  EXPECT_EQ(l.auth, SmtpListenerAuth::kNone);
  EXPECT_EQ(l.role, SmtpListenerRole::kInject);
  EXPECT_EQ(l.command_timeout, absl::Minutes(5));
  EXPECT_EQ(l.max_connections_per_ip, 50);
  EXPECT_THAT(CidrStrings(l.relay_networks), ElementsAre("127.0.0.0/8", "::1/128"));
  EXPECT_EQ(config.inject.max_memory, 1ull << 30);
}

TEST(InjectSectionTest, TheOldFormIsOneListener) {
  absl::StatusOr<Config> c = Parse(R"toml(
[inject.smtp]
listen = ["127.0.0.1:2600", "[::1]:2600"]
max_recipients = 7
)toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_THAT(c->smtp_listeners, SizeIs(1));
  EXPECT_EQ(c->smtp_listeners[0].listen.size(), 2u);
  EXPECT_EQ(c->smtp_listeners[0].max_recipients, 7);
  EXPECT_EQ(c->inject_smtp.max_recipients, 7);
}

TEST(InjectSectionTest, ListenerTablesTakeTheDefaultsAndOverrideThem) {
  absl::StatusOr<Config> c = Parse(R"toml(
[inject]
max_memory = "256MiB"
max_spool_backlog = 500

[inject.smtp]
auth_file = "users"
tls_cert = "cert.pem"
tls_key = "key.pem"
max_message_size = "10MiB"
command_timeout = "1m"

[[inject.smtp.listener]]
listen = ["0.0.0.0:587"]
require_tls = true
auth = "required"

[[inject.smtp.listener]]
name = "smtps"
listen = "0.0.0.0:465"
tls = "implicit"
max_message_size = "20MiB"
max_message_rate_per_user = "100/m"

[[inject.smtp.listener]]
listen = ["127.0.0.1:2525"]
tls = "none"
auth = "none"
relay_networks = ["10.0.0.0/8"]
min_data_rate = "2KiB"
session_timeout = "10m"
max_connections_per_ip = 0
max_connection_rate_per_ip = "60/m"
)toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->inject.max_memory, 256u << 20);
  EXPECT_EQ(c->inject.max_spool_backlog, 500);
  // [inject.smtp] has listener tables and no listen of its own: it is not a listener.
  ASSERT_THAT(c->smtp_listeners, SizeIs(3));
  const SmtpListenerConfig& submission = c->smtp_listeners[0];
  EXPECT_EQ(submission.name, "smtp-0.0.0.0:587");
  EXPECT_EQ(submission.tls, SmtpListenerTls::kStartTls);  // from tls_cert
  EXPECT_TRUE(submission.require_tls);
  EXPECT_EQ(submission.auth, SmtpListenerAuth::kRequired);
  EXPECT_EQ(submission.auth_file, "users");
  EXPECT_EQ(submission.max_message_size, 10u << 20);
  EXPECT_EQ(submission.command_timeout, absl::Minutes(1));
  const SmtpListenerConfig& smtps = c->smtp_listeners[1];
  EXPECT_EQ(smtps.name, "smtps");
  EXPECT_EQ(smtps.tls, SmtpListenerTls::kImplicit);
  EXPECT_EQ(smtps.auth, SmtpListenerAuth::kOptional);  // from auth_file
  EXPECT_EQ(smtps.max_message_size, 20u << 20);
  ASSERT_TRUE(smtps.max_message_rate_per_user.has_value());
  EXPECT_EQ(smtps.max_message_rate_per_user->ToString(), "100/m");
  const SmtpListenerConfig& plain = c->smtp_listeners[2];
  EXPECT_EQ(plain.tls, SmtpListenerTls::kNone);
  EXPECT_EQ(plain.auth, SmtpListenerAuth::kNone);
  EXPECT_THAT(CidrStrings(plain.relay_networks), ElementsAre("10.0.0.0/8"));
  EXPECT_EQ(plain.min_data_rate, 2048u);
  EXPECT_EQ(plain.session_timeout, absl::Minutes(10));
  EXPECT_EQ(plain.max_connections_per_ip, 0);
  ASSERT_TRUE(plain.max_connection_rate_per_ip.has_value());
  EXPECT_EQ(plain.max_connection_rate_per_ip->quantity, 60u);
}

TEST(InjectSectionTest, AListenOfItsOwnMakesInjectSmtpAListenerToo) {
  absl::StatusOr<Config> c = Parse(R"toml(
[inject.smtp]
listen = "127.0.0.1:2525"
[[inject.smtp.listener]]
listen = "127.0.0.1:2526"
role = "bounce"
)toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_THAT(c->smtp_listeners, SizeIs(2));
  EXPECT_EQ(c->smtp_listeners[0].name, "smtp");
  EXPECT_EQ(c->smtp_listeners[1].role, SmtpListenerRole::kBounce);
}

TEST(InjectSectionTest, ContradictionsAreReportedWithTheTableLine) {
  ExpectOneError("[inject.smtp]\ntls = \"starttls\"\n", 1,
                 "[inject.smtp]: tls = \"starttls\" needs tls_cert and tls_key");
  ExpectOneError("[inject.smtp]\ntls_cert = \"c.pem\"\n", 1, "tls_cert and tls_key go together");
  ExpectOneError("[inject.smtp]\nrequire_tls = true\n", 1, "require_tls needs tls = \"starttls\"");
  ExpectOneError("[inject.smtp]\nauth = \"required\"\n", 1,
                 "auth = \"required\" needs an auth_file");
  ExpectOneError("[inject.smtp]\nauth_file = \"u\"\n", 1,
                 "AUTH is offered only under TLS, and this listener has none");
  ExpectOneError(
      "[inject.smtp]\nauth_file = \"u\"\nallow_auth_without_tls = true\n\n"
      "[[inject.smtp.listener]]\nlisten = \"127.0.0.1:1\"\nrole = \"bounce\"\nauth = "
      "\"required\"\n",
      5, "[[inject.smtp.listener]] 1: role = \"bounce\" takes reports");
  ExpectOneError("[[inject.smtp.listener]]\nname = \"x\"\n", 1,
                 "[[inject.smtp.listener]] 1: listen is required");
  ExpectOneError("[inject.smtp]\ntls = \"sometimes\"\n", 2,
                 "[inject.smtp] tls: \"sometimes\" is not \"none\", \"starttls\" or \"implicit\"");
  ExpectOneError("[inject.smtp]\nauth = true\n", 2, "[inject.smtp] auth: expected a string");
  ExpectOneError("[[inject.smtp.listener]]\nlisten = \"127.0.0.1:1\"\ncolour = 1\n", 3,
                 "unknown key 'colour' in [inject.smtp.listener]");
  ExpectOneError("[inject.smtp]\nname = \"x\"\n", 2, "unknown key 'name' in [inject.smtp]");
  ExpectOneError("[inject]\nmax_memory = 0\n", 2, "[inject] max_memory");
  ExpectOneError("[inject]\nmax_spool_backlog = 0\n", 2, "[inject] max_spool_backlog: 0 is out");
  ExpectOneError("[inject.smtp]\ncommand_timeout = \"0s\"\n", 2, "[inject.smtp] command_timeout");
}

TEST(InjectSectionTest, AnAddressOrANameUsedTwiceIsRefused) {
  ExpectOneError(
      "[inject.smtp]\nlisten = \"127.0.0.1:25\"\n[[inject.smtp.listener]]\n"
      "listen = [\"127.0.0.1:25\"]\n",
      4, "[[inject.smtp.listener]] 1 listen: 127.0.0.1:25 is another listener's address");
  ExpectOneError(
      "[[inject.smtp.listener]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\n"
      "[[inject.smtp.listener]]\nname = \"a\"\nlisten = \"127.0.0.1:26\"\n",
      4, "[[inject.smtp.listener]] 2: the name \"a\" is another listener's");
  // Port 0 ("any free port") never clashes.
  absl::StatusOr<Config> c = Parse(
      "[[inject.smtp.listener]]\nlisten = \"127.0.0.1:0\"\n"
      "[[inject.smtp.listener]]\nname = \"b\"\nlisten = \"127.0.0.1:0\"\n");
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(InjectSectionTest, AListenerAddressMustNotBeTheHttpOne) {
  ExpectOneError(
      "[http]\nlisten = \"127.0.0.1:8025\"\n[[inject.smtp.listener]]\n"
      "listen = \"127.0.0.1:8025\"\n",
      2, "[http] listen: 127.0.0.1:8025 is also an [inject.smtp] listen address");
}

}  // namespace
}  // namespace volley::config
