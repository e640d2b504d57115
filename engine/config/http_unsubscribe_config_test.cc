// Config: [http]'s injection keys and [unsubscribe].
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

std::string ErrorOf(const std::string& toml) {
  absl::StatusOr<Config> config = ParseConfig(toml, "t.toml");
  EXPECT_FALSE(config.ok()) << toml;
  return config.ok() ? "" : std::string(config.status().message());
}

TEST(ConfigHttp, InjectionKeysAndTheirDefaults) {
  const Config defaults = Config::Defaults();
  EXPECT_EQ(defaults.http.inject_token, "");
  EXPECT_EQ(defaults.http.max_request_size, 64u << 20);
  EXPECT_EQ(defaults.http.inject_max_recipients, 100000);
  EXPECT_EQ(defaults.http.inject_max_message_size, 25u << 20);
  absl::StatusOr<Config> config = ParseConfig(
      "[http]\ninject_token = \"abcdefghijklmnop\"\nmax_request_size = \"1MiB\"\n"
      "inject_max_recipients = 10\ninject_max_message_size = \"100KiB\"\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http.inject_token, "abcdefghijklmnop");
  EXPECT_EQ(config->http.max_request_size, 1u << 20);
  EXPECT_EQ(config->http.inject_max_recipients, 10);
  EXPECT_EQ(config->http.inject_max_message_size, 100u << 10);
}

TEST(ConfigHttp, BadInjectionKeysAreErrorsWithTheirLine) {
  EXPECT_TRUE(absl::StrContains(ErrorOf("[http]\ninject_token = \"short\"\n"),
                                "t.toml:2: [http] inject_token: at least 16 characters"));
  EXPECT_TRUE(absl::StrContains(ErrorOf("[http]\ninject_token = \"has a space in it ok\"\n"),
                                "t.toml:2: [http] inject_token"));
  EXPECT_TRUE(absl::StrContains(ErrorOf("[http]\n\ninject_max_recipients = 0\n"), "t.toml:3:"));
  EXPECT_TRUE(absl::StrContains(ErrorOf("[http]\nmax_request_size = \"lots\"\n"), "t.toml:2:"));
}

TEST(ConfigHttp, AnAdminApiOffLoopbackNeedsAToken) {
  EXPECT_TRUE(absl::StrContains(ErrorOf("[http]\nlisten = \"0.0.0.0:8025\"\n"),
                                "t.toml:2: [http] listen: 0.0.0.0:8025 is not a loopback address"));
  EXPECT_TRUE(
      absl::StrContains(ErrorOf("[http]\nlisten = \"[::]:8025\"\n"), "set [http] admin_token"));
  for (const char* ok :
       {"[http]\nlisten = \"0.0.0.0:8025\"\nadmin_token = \"0123456789abcdef\"\n",
        "[http]\nlisten = \"127.0.0.2:8025\"\n", "[http]\nlisten = \"[::1]:8025\"\n"}) {
    absl::StatusOr<Config> config = ParseConfig(ok, "t.toml");
    EXPECT_TRUE(config.ok()) << ok << config.status();
  }
  absl::StatusOr<Config> config =
      ParseConfig("[http]\nadmin_token = \"0123456789abcdef\"\n", "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http.admin_token, "0123456789abcdef");
  EXPECT_TRUE(absl::StrContains(ErrorOf("[http]\nadmin_token = \"short\"\n"),
                                "t.toml:2: [http] admin_token: at least 16 characters"));
}

TEST(ConfigUnsubscribe, OffByDefaultAndReadWhole) {
  EXPECT_FALSE(Config::Defaults().unsubscribe.on());
  EXPECT_FALSE(Config::Defaults().unsubscribe.EnabledFor("any"));
  absl::StatusOr<Config> config = ParseConfig(
      "[unsubscribe]\nurl = \"https://mta.example.net/unsub/\"\nsecret = \"0123456789abcdef\"\n"
      "expire_after = \"30d\"\nenabled = false\n"
      "[unsubscribe.tenant.acme]\nenabled = true\n[unsubscribe.tenant.quiet]\nenabled = false\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const UnsubscribeConfig& u = config->unsubscribe;
  EXPECT_EQ(u.url, "https://mta.example.net/unsub");
  EXPECT_EQ(u.path, "/unsub");
  EXPECT_EQ(u.secret, "0123456789abcdef");
  EXPECT_EQ(u.expire_after, absl::Hours(24 * 30));
  EXPECT_TRUE(u.EnabledFor("acme"));
  EXPECT_FALSE(u.EnabledFor("quiet"));
  EXPECT_FALSE(u.EnabledFor("other")) << "enabled = false for the rest";
  EXPECT_FALSE(u.EnabledFor(""));
}

TEST(ConfigUnsubscribe, UrlsThatCannotCarryTokensAreRefused) {
  for (const char* url : {"ftp://mta.example.net/u", "https:///u", "https://mta.example.net",
                          "https://mta.example.net/", "https://mta.example.net/u?x=1",
                          "https://mta.example.net/api/u", "https://mta.example.net/metrics",
                          "https://mta example.net/u"}) {
    SCOPED_TRACE(url);
    const std::string error = ErrorOf(std::string("[unsubscribe]\nurl = \"") + url + "\"\n");
    EXPECT_TRUE(absl::StrContains(error, "t.toml:2: [unsubscribe] url: ")) << error;
  }
  EXPECT_TRUE(absl::StrContains(ErrorOf("[unsubscribe]\nsecret = \"short\"\n"),
                                "t.toml:2: [unsubscribe] secret: at least 16 characters"));
  EXPECT_TRUE(absl::StrContains(ErrorOf("[unsubscribe]\nurls = \"x\"\n"), "t.toml:2: unknown key"));
  EXPECT_TRUE(absl::StrContains(ErrorOf("[unsubscribe.tenant.\"bad tenant\"]\nenabled = true\n"),
                                "t.toml:1:"));
  EXPECT_TRUE(absl::StrContains(ErrorOf("[unsubscribe.tenant.a]\nenable = true\n"), "t.toml:2:"));
}

}  // namespace
}  // namespace volley::config
