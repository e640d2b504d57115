#include "engine/http/api/suspend.h"

#include <optional>
#include <string>

#include "engine/http/api/route_test_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "queue/test_temp_path.h"

namespace volley::http::api {
namespace {

class SuspendRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spool = queue::Spool::Open(queue::TempPath("suspend_route"));
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    store_ = std::make_unique<adaptive::SuspensionStore>(spool_.get(), &clock_, nullptr);
    SuspendBackend backend;
    backend.store = store_.get();
    backend.clock = &clock_;
    // The engine runs the work on its I/O pool; here it runs at once.
    backend.run_blocking = RunBlockingAtOnce();
    RegisterSuspend(&router_, std::move(backend));
  }

  HttpResponse Ask(const std::string& method, const std::string& body) {
    return AskRoute(router_, method, kSuspendPath, body);
  }

  SimulatedClock clock_;
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<adaptive::SuspensionStore> store_;
  Router router_;
};

TEST_F(SuspendRouteTest, CreatesListsAndLifts) {
  const HttpResponse created =
      Ask("POST", R"({"domain": "a.example", "reason": "maintenance", "duration": "1h"})");
  ASSERT_EQ(created.status, 200) << created.body;
  const nlohmann::json s = nlohmann::json::parse(created.body);
  const std::string id = s["id"];
  EXPECT_EQ(s["domain"], "a.example");
  EXPECT_EQ(s["duration"], "1h");
  EXPECT_EQ(s["origin"], "admin");

  const HttpResponse listed = Ask("GET", "");
  ASSERT_EQ(listed.status, 200);
  const nlohmann::json all = nlohmann::json::parse(listed.body);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["id"], id);
  EXPECT_EQ(store_->current()->all().size(), 1u);

  const HttpResponse lifted = Ask("DELETE", absl::StrCat(R"({"id": ")", id, R"("})"));
  EXPECT_EQ(lifted.status, 200) << lifted.body;
  EXPECT_EQ(Ask("GET", "").body, "[]\n");
  const HttpResponse again = Ask("DELETE", absl::StrCat(R"({"id": ")", id, R"("})"));
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(nlohmann::json::parse(again.body)["field"], "id");
}

TEST_F(SuspendRouteTest, BadRequestsAre400NamingTheFieldAndStoreNothing) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"reason": "r"})", "domain"},
      {R"({"domain": "a.example", "reason": "r", "duration": "soon"})", "duration"},
      {R"({"domain": "a.example", "reason": "r", "duration": "3/never"})", "duration"},
      {R"({"domain": "a.example"})", "reason"},
      {R"({"domain": "a.example", "reason": "r", "colour": "red"})", "colour"},
  };
  for (const auto& [body, field] : cases) {
    const HttpResponse r = Ask("POST", body);
    EXPECT_EQ(r.status, 400) << body;
    const nlohmann::json j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["field"], field) << r.body;
    EXPECT_NE(j["error"].get<std::string>().find(field), std::string::npos) << r.body;
  }
  EXPECT_EQ(Ask("POST", "not json").status, 400);
  EXPECT_EQ(Ask("DELETE", "{}").status, 400);
  EXPECT_TRUE(store_->List().empty());
}

}  // namespace
}  // namespace volley::http::api
