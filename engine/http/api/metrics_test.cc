#include "engine/http/api/metrics.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace volley::http::api {
namespace {

TEST(MetricsRoute, AnswersWithTheScrapedTextWhenItIsReady) {
  Router router;
  absl::AnyInvocable<void(std::string)> pending;
  RegisterMetrics(&router, [&pending](absl::AnyInvocable<void(std::string)> reply) {
    pending = std::move(reply);  // answered later, as the engine does
  });
  HttpRequest request;
  request.method = "GET";
  request.path = std::string(kMetricsPath);
  std::optional<HttpResponse> response;
  router.Dispatch(request, [&response](HttpResponse r) { response = std::move(r); });
  EXPECT_FALSE(response.has_value());
  pending("volley_up 1\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "volley_up 1\n");
  EXPECT_EQ(response->content_type, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(MetricsRoute, OnlyGet) {
  Router router;
  RegisterMetrics(&router, [](absl::AnyInvocable<void(std::string)> reply) { reply(""); });
  HttpRequest request;
  request.method = "POST";
  request.path = std::string(kMetricsPath);
  std::optional<HttpResponse> response;
  router.Dispatch(request, [&response](HttpResponse r) { response = std::move(r); });
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 405);
}

}  // namespace
}  // namespace volley::http::api
