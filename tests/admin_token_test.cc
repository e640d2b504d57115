// [http] admin_token against a real volleyd: /api/admin/* answers 401 without a bearer token
// and 403 with another (before any routing), serves with the right one; /metrics and the
// liveness check stay open; the injection API takes the admin token too. And volleyd refuses to
// start with the API off loopback and no token.
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/http_inject.h"
#include "tests/support/relay_world.h"
#include "tests/support/shell.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

constexpr char kAdmin[] = "admin-token-for-the-test-0123";

TEST(AdminTokenTest, GuardsTheAdminApiOnly) {
  test_support::RelayWorld world;
  test_support::RelayOptions options;
  options.name = "admin_token";
  options.domains = {"adm.test"};
  options.http = absl::StrCat("admin_token = \"", kAdmin, "\"\n");
  ASSERT_TRUE(world.Start(std::move(options)).ok());
  const uint16_t port = world.volleyd().http_port();
  auto status = [&](const std::string& method, const std::string& path, const std::string& body,
                    const std::string& token) {
    const std::string header =
        token.empty() ? "" : absl::StrCat("-H 'Authorization: Bearer ", token, "'");
    auto answer = test_support::Curl(port, method, path, body, header);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? answer->status : 0;
  };
  const std::string list = "/api/admin/suppression/v1?limit=5";
  EXPECT_EQ(status("GET", list, "", ""), 401);
  EXPECT_EQ(status("GET", "/api/admin/no-such-route", "", ""), 401);
  EXPECT_EQ(status("GET", list, "", "not-the-admin-token-000"), 403);
  EXPECT_EQ(status("GET", list, "", kAdmin), 200);
  EXPECT_EQ(status("GET", "/api/admin/no-such-route", "", kAdmin), 404);
  EXPECT_EQ(status("POST", "/api/admin/suppression/v1",
                   R"({"recipient": "x@adm.test", "reason": "test"})", ""),
            401);
  EXPECT_EQ(status("GET", "/metrics", "", ""), 200);
  EXPECT_EQ(status("GET", "/api/check-liveness/v1", "", ""), 200);
  const std::string inject =
      R"({"envelope_sender": "s@volley.test", "recipients": [{"email": "a@adm.test"}],
          "content": "Subject: x\r\n\r\nbody\r\n"})";
  EXPECT_EQ(status("POST", "/api/inject/v1", inject, ""), 401);
  EXPECT_EQ(status("POST", "/api/inject/v1", inject, kAdmin), 200);
  EXPECT_TRUE(world.sink().WaitForMessages(1, absl::Seconds(30)));
}

TEST(AdminTokenTest, AnApiOffLoopbackWithoutATokenIsRefusedAtStart) {
  const std::string dir = test_support::FreshTestDir("admin_token_exposed");
  const std::string config = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream out(config);
    out << "[server]\nspool = \"" << dir << "/spool\"\nlog = \"\"\n"
        << "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n"
        << "[http]\nlisten = \"0.0.0.0:0\"\n[dns]\nservers = [\"127.0.0.1:9\"]\n";
  }
  auto [code, output] = test_support::RunShell(
      absl::StrCat("'", test_support::VolleydBinary(), "' --check-config --config='", config, "'"));
  EXPECT_EQ(code, 1) << output;
  EXPECT_TRUE(absl::StrContains(output, "is not a loopback address")) << output;
  EXPECT_TRUE(absl::StrContains(output, "admin_token")) << output;
}

}  // namespace
}  // namespace volley
