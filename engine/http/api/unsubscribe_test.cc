// The one-click unsubscribe routes over a real spool's suppression list: a good link
// suppresses for its tenant and is recorded; forged, expired and malformed links suppress
// nothing; GET never unsubscribes.
#include "engine/http/api/unsubscribe.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "engine/http/api/route_test_util.h"
#include "gtest/gtest.h"
#include "queue/test_temp_path.h"

namespace volley::http::api {
namespace {

class UnsubscribeRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spool = queue::Spool::Open(queue::TempPath("unsubscribe_route"));
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    list_ = std::make_unique<bounce::SuppressionList>(spool_.get(), &clock_);
    UnsubscribeBackend backend;
    backend.path = "/u";
    backend.tokens = &tokens_;
    backend.list = list_.get();
    backend.clock = &clock_;
    backend.run_blocking = RunBlockingAtOnce();
    backend.record = [this](const bounce::UnsubscribeClaim& claim, absl::string_view peer) {
      recorded_.push_back(claim.recipient + "|" + claim.tenant + "|" + std::string(peer));
    };
    RegisterUnsubscribe(&router_, std::move(backend));
  }

  std::string Token(const std::string& recipient, const std::string& tenant,
                    absl::Duration valid = absl::Hours(1)) {
    bounce::UnsubscribeClaim claim;
    claim.recipient = recipient;
    claim.tenant = tenant;
    claim.campaign = "fall";
    claim.expires = clock_.Now() + valid;
    return tokens_.Make(claim);
  }

  HttpResponse Ask(const std::string& method, const std::string& token) {
    HttpRequest request;
    request.method = method;
    request.path = "/u/" + token;
    request.body = "List-Unsubscribe=One-Click";
    request.peer_address = "127.0.0.9";
    std::optional<HttpResponse> response;
    router_.Dispatch(request, [&response](HttpResponse r) { response = std::move(r); });
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse::Text(0, ""));
  }

  bool Suppressed(const std::string& recipient, const std::string& tenant) {
    auto found = list_->Lookup(recipient, tenant);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() && found->has_value();
  }

  SimulatedClock clock_;
  bounce::UnsubscribeTokens tokens_{std::string(32, 's')};
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<bounce::SuppressionList> list_;
  std::vector<std::string> recorded_;
  Router router_;
};

TEST_F(UnsubscribeRouteTest, APostSuppressesForTheLinksTenantAndIsRecorded) {
  const HttpResponse r = Ask("POST", Token("ann@example.com", "acme"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Suppressed("ann@example.com", "acme"));
  EXPECT_FALSE(Suppressed("ann@example.com", "other-tenant"));
  auto entry = list_->Lookup("ann@example.com", "acme");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->source, "unsubscribe");
  EXPECT_TRUE(absl::StrContains((*entry)->reason, "fall")) << (*entry)->reason;
  EXPECT_EQ(recorded_, std::vector<std::string>{"ann@example.com|acme|127.0.0.9"});
}

TEST_F(UnsubscribeRouteTest, ForgedExpiredAndMalformedLinksSuppressNothing) {
  std::string forged = Token("ann@example.com", "acme");
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  const std::string expired = Token("bob@example.com", "acme", absl::Seconds(30));
  clock_.Advance(absl::Minutes(1));
  bounce::UnsubscribeTokens other_key(std::string(32, 'o'));
  bounce::UnsubscribeClaim claim;
  claim.recipient = "cy@example.com";
  claim.expires = clock_.Now() + absl::Hours(1);
  const std::string other = other_key.Make(claim);

  EXPECT_EQ(Ask("POST", forged).status, 403);
  EXPECT_EQ(Ask("POST", other).status, 403);
  EXPECT_EQ(Ask("POST", expired).status, 410);
  EXPECT_EQ(Ask("POST", "not-a-token!").status, 400);
  EXPECT_FALSE(Suppressed("ann@example.com", "acme"));
  EXPECT_FALSE(Suppressed("bob@example.com", "acme"));
  EXPECT_FALSE(Suppressed("cy@example.com", ""));
  EXPECT_TRUE(recorded_.empty());
}

TEST_F(UnsubscribeRouteTest, AGetShowsAButtonAndUnsubscribesNobody) {
  const HttpResponse page = Ask("GET", Token("ann@example.com", "acme"));
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(absl::StrContains(page.body, "method=\"post\"")) << page.body;
  EXPECT_FALSE(Suppressed("ann@example.com", "acme"));
  EXPECT_EQ(Ask("GET", "garbage").status, 400);
  EXPECT_TRUE(recorded_.empty());
}

}  // namespace
}  // namespace volley::http::api
