// The suppression routes over a real spool: add, look up, page through, remove, and every bad
// request answered 400 naming its field.
#include "engine/http/api/suppression.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/http/api/route_test_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "queue/test_temp_path.h"

namespace volley::http::api {
namespace {

class SuppressionRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spool = queue::Spool::Open(queue::TempPath("suppression_route"));
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    list_ = std::make_unique<bounce::SuppressionList>(spool_.get(), &clock_);
    SuppressionBackend backend;
    backend.list = list_.get();
    backend.clock = &clock_;
    // The engine runs the work on its I/O pool; here it runs at once.
    backend.run_blocking = RunBlockingAtOnce();
    RegisterSuppression(&router_, std::move(backend));
  }

  HttpResponse Ask(const std::string& method, const std::string& body,
                   const std::string& query = "") {
    return AskRoute(router_, method, kSuppressionPath, body, query);
  }

  SimulatedClock clock_;
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<bounce::SuppressionList> list_;
  Router router_;
};

TEST_F(SuppressionRouteTest, AddsLooksUpAndRemoves) {
  const HttpResponse added =
      Ask("POST", R"({"recipient": "Gone@Example.com", "reason": "asked to stop"})");
  ASSERT_EQ(added.status, 200) << added.body;
  const nlohmann::json e = nlohmann::json::parse(added.body);
  EXPECT_EQ(e["recipient"], "gone@example.com");
  EXPECT_EQ(e["source"], "admin");
  EXPECT_TRUE(e["tenant"].is_null());
  EXPECT_TRUE(e["expires"].is_null());

  const HttpResponse found = Ask("GET", "", "recipient=gone%40example.com&tenant=t1");
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(nlohmann::json::parse(found.body)["reason"], "asked to stop");
  EXPECT_EQ(Ask("GET", "", "recipient=other%40example.com").status, 404);

  const HttpResponse removed = Ask("DELETE", R"({"recipient": "gone@example.com"})");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(nlohmann::json::parse(removed.body)["removed"], true);
  EXPECT_EQ(Ask("GET", "", "recipient=gone%40example.com").status, 404);
  EXPECT_EQ(Ask("DELETE", R"({"recipient": "gone@example.com"})").status, 404);
}

TEST_F(SuppressionRouteTest, ATimedEntryEnds) {
  const HttpResponse added =
      Ask("POST", R"({"recipient": "a@example.com", "reason": "r", "tenant": "t1",
                      "duration": "1h"})");
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_TRUE(nlohmann::json::parse(added.body)["expires"].is_string());
  EXPECT_EQ(Ask("GET", "", "recipient=a%40example.com&tenant=t1").status, 200);
  EXPECT_EQ(Ask("GET", "", "recipient=a%40example.com&tenant=t2").status, 404);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(Ask("GET", "", "recipient=a%40example.com&tenant=t1").status, 404);
}

TEST_F(SuppressionRouteTest, PagesCoverTheListOnce) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(
        Ask("POST", absl::StrCat(R"({"recipient": "u)", i, R"(@example.com", "reason": "r"})"))
            .status,
        200);
  }
  int seen = 0;
  std::string query = "limit=3";
  for (int pages = 0; pages < 10; ++pages) {
    const HttpResponse page = Ask("GET", "", query);
    ASSERT_EQ(page.status, 200) << page.body;
    const nlohmann::json j = nlohmann::json::parse(page.body);
    seen += static_cast<int>(j["entries"].size());
    if (j["next"].is_null()) break;
    query = absl::StrCat("limit=3&after=", j["next"].get<std::string>());
  }
  EXPECT_EQ(seen, 7);
}

TEST_F(SuppressionRouteTest, BadRequestsNameTheirField) {
  struct Case {
    const char* method;
    const char* body;
    const char* query;
    const char* field;
  };
  for (const Case& c : {
           Case{"POST", R"({"reason": "r"})", "", "recipient"},
           Case{"POST", R"({"recipient": "a@example.com"})", "", "reason"},
           Case{"POST", R"({"recipient": "nodomain", "reason": "r"})", "", "recipient"},
           Case{"POST", R"({"recipient": "a@example.com", "reason": "r", "duration": "soon"})", "",
                "duration"},
           Case{"POST", R"({"recipient": "a@example.com", "reason": "r", "colour": 1})", "",
                "colour"},
           Case{"POST", R"({"recipient": 7, "reason": "r"})", "", "recipient"},
           Case{"POST", "not json", "", ""},
           Case{"DELETE", R"({})", "", "recipient"},
           Case{"GET", "", "limit=0", "limit"},
           Case{"GET", "", "limit=5000", "limit"},
           Case{"GET", "", "after=%%%", ""},
       }) {
    const HttpResponse r = Ask(c.method, c.body, c.query);
    EXPECT_EQ(r.status, 400) << c.method << " " << c.body << " " << c.query << ": " << r.body;
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j.value("field", ""), c.field) << r.body;
  }
}

}  // namespace
}  // namespace volley::http::api
