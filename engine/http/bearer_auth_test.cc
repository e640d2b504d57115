#include "engine/http/bearer_auth.h"

#include <optional>
#include <string>

#include "engine/http/router.h"
#include "gtest/gtest.h"

namespace volley::http {
namespace {

HttpRequest WithAuthorization(std::string path, std::string value) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  if (!value.empty()) r.headers["authorization"] = std::move(value);
  return r;
}

TEST(BearerAuthTest, ReadsTheTokenOfABearerHeaderOnly) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("  bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic YTpi"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(BearerAuthTest, MissingIs401WrongIs403RightPasses) {
  const std::vector<std::string> accepted = {"", "admin-token-0123456789"};
  std::optional<HttpResponse> none = CheckBearer(WithAuthorization("/x", ""), accepted, "t");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->status, 401);
  bool challenge = false;
  for (const auto& [name, value] : none->headers) challenge |= name == "WWW-Authenticate";
  EXPECT_TRUE(challenge);
  std::optional<HttpResponse> wrong =
      CheckBearer(WithAuthorization("/x", "Bearer admin-token-0123456788"), accepted, "t");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 403);
  EXPECT_FALSE(
      CheckBearer(WithAuthorization("/x", "Bearer admin-token-0123456789"), accepted, "t"));
  // An empty accepted token never matches an empty presented one.
  EXPECT_TRUE(CheckBearer(WithAuthorization("/x", "Bearer "), {""}, "t").has_value());
}

TEST(BearerAuthTest, ARouterGuardRefusesBeforeRoutingAndOnlyBelowItsPrefix) {
  Router router;
  router.Add("GET", "/api/admin/queue/v1", [](const HttpRequest&, Respond respond) {
    std::move(respond)(HttpResponse::Text(200, "queue"));
  });
  router.Add("GET", "/metrics", [](const HttpRequest&, Respond respond) {
    std::move(respond)(HttpResponse::Text(200, "metrics"));
  });
  const std::vector<std::string> accepted = {"admin-token-0123456789"};
  router.Guard("/api/admin/", [accepted](const HttpRequest& r) {
    return CheckBearer(r, accepted, "admin_token");
  });
  auto status = [&](HttpRequest r) {
    int got = 0;
    router.Dispatch(r, [&got](HttpResponse response) { got = response.status; });
    return got;
  };
  EXPECT_EQ(status(WithAuthorization("/api/admin/queue/v1", "")), 401);
  EXPECT_EQ(status(WithAuthorization("/api/admin/unknown", "")), 401) << "no 404 without auth";
  EXPECT_EQ(status(WithAuthorization("/api/admin/queue/v1", "Bearer nope")), 403);
  EXPECT_EQ(status(WithAuthorization("/api/admin/queue/v1", "Bearer admin-token-0123456789")), 200);
  EXPECT_EQ(status(WithAuthorization("/api/admin/unknown", "Bearer admin-token-0123456789")), 404);
  EXPECT_EQ(status(WithAuthorization("/metrics", "")), 200);
}

}  // namespace
}  // namespace volley::http
