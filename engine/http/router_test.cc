#include "engine/http/router.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace volley::http {
namespace {

HttpRequest Request(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

// Dispatches and returns what was answered at once (nullopt if nothing was).
std::optional<HttpResponse> Answer(Router& router, const HttpRequest& request) {
  std::optional<HttpResponse> answer;
  router.Dispatch(request, [&answer](HttpResponse response) { answer = std::move(response); });
  return answer;
}

Handler Says(std::string body) {
  return [body = std::move(body)](const HttpRequest&, Respond respond) {
    std::move(respond)(HttpResponse::Text(200, body));
  };
}

std::string AllowOf(const HttpResponse& response) {
  for (const auto& [name, value] : response.headers) {
    if (name == "Allow") return value;
  }
  return "(none)";
}

TEST(RouterTest, RoutesByExactMethodAndPath) {
  Router router;
  router.Add("GET", "/a", Says("get a"));
  router.Add("POST", "/a", Says("post a"));
  router.Add("GET", "/b", Says("get b"));
  std::optional<HttpResponse> r = Answer(router, Request("GET", "/a"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "get a");
  EXPECT_EQ(Answer(router, Request("POST", "/a"))->body, "post a");
  EXPECT_EQ(Answer(router, Request("GET", "/b"))->body, "get b");
}

TEST(RouterTest, UnknownPathsGet404) {
  Router router;
  router.Add("GET", "/metrics", Says("m"));
  for (const char* path : {"/", "/metric", "/metrics/", "/METRICS", "/metrics/x"}) {
    std::optional<HttpResponse> r = Answer(router, Request("GET", path));
    ASSERT_TRUE(r.has_value()) << path;
    EXPECT_EQ(r->status, 404) << path;
  }
}

TEST(RouterTest, AnotherMethodGets405WithASortedAllow) {
  Router router;
  router.Add("POST", "/x", Says("post"));
  router.Add("DELETE", "/x", Says("delete"));
  router.Add("GET", "/x", Says("get"));
  std::optional<HttpResponse> r = Answer(router, Request("PUT", "/x"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(AllowOf(*r), "DELETE, GET, POST");
  // Methods are case-sensitive (RFC 9110 9.1).
  EXPECT_EQ(Answer(router, Request("get", "/x"))->status, 405);
  // HEAD is not served by the GET handler.
  EXPECT_EQ(Answer(router, Request("HEAD", "/x"))->status, 405);
  EXPECT_EQ(router.MethodsFor("/x"), (std::vector<std::string>{"DELETE", "GET", "POST"}));
  EXPECT_TRUE(router.MethodsFor("/y").empty());
}

TEST(RouterTest, PrefixRoutesTakeThePathsBelowThemWhenNoExactRouteDoes) {
  Router router;
  router.AddPrefix("POST", "/u", Says("unsubscribe"));
  router.AddPrefix("POST", "/u/x", Says("longer"));
  router.Add("POST", "/u/exact", Says("exact"));
  EXPECT_EQ(Answer(router, Request("POST", "/u/TOKEN"))->body, "unsubscribe");
  EXPECT_EQ(Answer(router, Request("POST", "/u/x/TOKEN"))->body, "longer");
  EXPECT_EQ(Answer(router, Request("POST", "/u/exact"))->body, "exact");
  EXPECT_EQ(Answer(router, Request("POST", "/u"))->status, 404);
  EXPECT_EQ(Answer(router, Request("POST", "/u/"))->status, 404);
  EXPECT_EQ(Answer(router, Request("POST", "/ux"))->status, 404);
  std::optional<HttpResponse> get = Answer(router, Request("GET", "/u/TOKEN"));
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(AllowOf(*get), "POST");
}

TEST(RouterTest, AddReplacesTheHandler) {
  Router router;
  router.Add("GET", "/a", Says("old"));
  router.Add("GET", "/a", Says("new"));
  EXPECT_EQ(Answer(router, Request("GET", "/a"))->body, "new");
  EXPECT_EQ(router.MethodsFor("/a").size(), 1u);
}

TEST(RouterTest, AHandlerMayReplaceItselfWhileItRuns) {
  Router router;
  int calls = 0;
  router.Add("GET", "/once", [&](const HttpRequest&, Respond respond) {
    ++calls;
    // Destroys the running handler's slot in the router, and grows the table.
    router.Add("GET", "/once", Says("replaced"));
    for (int i = 0; i < 100; ++i) router.Add("GET", "/p" + std::to_string(i), Says("p"));
    std::move(respond)(HttpResponse::Text(200, "first"));
  });
  EXPECT_EQ(Answer(router, Request("GET", "/once"))->body, "first");
  EXPECT_EQ(Answer(router, Request("GET", "/once"))->body, "replaced");
  EXPECT_EQ(calls, 1);
}

TEST(RouterTest, TheHandlerMayAnswerLater) {
  Router router;
  Respond held;
  router.Add("GET", "/later",
             [&](const HttpRequest&, Respond respond) { held = std::move(respond); });
  std::optional<HttpResponse> answer;
  router.Dispatch(Request("GET", "/later"),
                  [&answer](HttpResponse response) { answer = std::move(response); });
  EXPECT_FALSE(answer.has_value());
  std::move(held)(HttpResponse::Text(202, "done"));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 202);
}

}  // namespace
}  // namespace volley::http
