#include "engine/http/api/explain.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace volley::http::api {
namespace {

// Routes a GET of kExplainPath with `query` to an explain that knows one site, "a.test", with
// two queues; returns the answer and the site asked for.
HttpResponse Get(const std::string& query, std::string* asked = nullptr) {
  Router router;
  RegisterExplain(
      &router, [asked](std::string site, absl::AnyInvocable<void(std::vector<std::string>)> reply) {
        if (asked != nullptr) *asked = site;
        reply(site == "a.test" ? std::vector<std::string>{"{\"key\":\"q1\"}", "{\"key\":\"q2\"}"}
                               : std::vector<std::string>{});
      });
  HttpRequest request;
  request.method = "GET";
  request.path = std::string(kExplainPath);
  request.query = query;
  std::optional<HttpResponse> response;
  router.Dispatch(request, [&response](HttpResponse r) { response = std::move(r); });
  EXPECT_TRUE(response.has_value());
  return response.value_or(HttpResponse::Text(0, ""));
}

TEST(ExplainRoute, AnswersEveryQueueOfTheSite) {
  std::string asked;
  const HttpResponse response = Get("site=a%2Etest", &asked);
  EXPECT_EQ(asked, "a.test");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body,
            "{\"site\":\"a.test\",\"queues\":[{\"key\":\"q1\"},{\"key\":\"q2\"}]}\n");
}

TEST(ExplainRoute, UnknownSiteIs404AndAMissingOneIs400) {
  const HttpResponse unknown = Get("site=b.test");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("no queue of site \\\"b.test\\\""), std::string::npos)
      << unknown.body;
  for (const char* query : {"", "site=", "other=a.test", "site=%zz"}) {
    const HttpResponse bad = Get(query);
    EXPECT_EQ(bad.status, 400) << query;
    EXPECT_NE(bad.body.find("'site'"), std::string::npos) << query << ": " << bad.body;
  }
}

}  // namespace
}  // namespace volley::http::api
