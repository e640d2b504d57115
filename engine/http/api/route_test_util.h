// For tests of the admin API's routes: a request through a Router, answered at once.
#ifndef VOLLEY_ENGINE_HTTP_API_ROUTE_TEST_UTIL_H_
#define VOLLEY_ENGINE_HTTP_API_ROUTE_TEST_UTIL_H_

#include <optional>
#include <string>

#include "engine/http/router.h"
#include "gtest/gtest.h"

namespace volley::http::api {

// The answer of `router` to `method` `path`?`query` with `body` (status 0 when none came).
inline HttpResponse AskRoute(Router& router, const std::string& method, absl::string_view path,
                             const std::string& body, const std::string& query = "") {
  HttpRequest request;
  request.method = method;
  request.path = std::string(path);
  request.query = query;
  request.body = body;
  std::optional<HttpResponse> response;
  router.Dispatch(request, [&response](HttpResponse r) { response = std::move(r); });
  EXPECT_TRUE(response.has_value()) << method << " " << path << " was not answered";
  return response.value_or(HttpResponse::Text(0, ""));
}

// What a test's backend runs blocking work with: at once, on the test's thread.
inline RunBlocking RunBlockingAtOnce() {
  return [](absl::AnyInvocable<HttpResponse() &&> work, Respond respond) {
    std::move(respond)(std::move(work)());
  };
}

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_ROUTE_TEST_UTIL_H_
