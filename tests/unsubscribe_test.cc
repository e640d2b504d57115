// RFC 8058 one-click unsubscribe against a real volleyd and sink: bulk mail (a campaign) gets
// List-Unsubscribe and List-Unsubscribe-Post, transactional mail does not; a POST from curl to
// the link suppresses the recipient for that tenant only and is logged; a forged or expired
// link is refused and suppresses nothing.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/http_inject.h"
#include "tests/support/relay_world.h"

namespace volley {
namespace {

using nlohmann::json;

constexpr char kUrl[] = "https://mta.example.net/u";

class UnsubscribeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::RelayOptions options;
    options.name = "unsubscribe";
    options.domains = {"uns.test"};
    options.sink.record = true;
    // Links of one tenant expire fast, for the expired-link case; "quiet" has them off.
    options.config = absl::StrCat("[unsubscribe]\nurl = \"", kUrl,
                                  "\"\nsecret = \"0123456789abcdef0123\"\n"
                                  "expire_after = \"2s\"\n"
                                  "[unsubscribe.tenant.quiet]\nenabled = false\n");
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  // Injects one message to `recipient` and returns it as the sink got it.
  test_support::ReceivedMessage Send(const std::string& recipient, const std::string& tenant,
                                     const std::string& campaign) {
    json request = {{"envelope_sender", "s@volley.test"},
                    {"recipients", {{{"email", recipient}}}},
                    {"content", "From: s@volley.test\r\nSubject: news\r\n\r\nhello\r\n"},
                    {"tenant", tenant}};
    if (!campaign.empty()) request["campaign"] = campaign;
    auto answer =
        test_support::Curl(world_.volleyd().http_port(), "POST", "/api/inject/v1", request.dump());
    EXPECT_TRUE(answer.ok() && answer->status == 200) << (answer.ok() ? answer->body : "");
    EXPECT_TRUE(world_.sink().WaitForMessages(++sent_, absl::Seconds(30)));
    std::vector<test_support::ReceivedMessage> got = world_.sink().TakeMessages();
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? test_support::ReceivedMessage() : got.back();
  }

  // The link's path on the HTTP listener ("/u/TOKEN"), from the message's header.
  static std::string LinkPath(const test_support::ReceivedMessage& m) {
    auto mime = test_support::ReadMime({m.content});
    EXPECT_TRUE(mime.ok()) << mime.status();
    if (!mime.ok() || !(*mime)[0]["list_unsubscribe"].is_string()) return "";
    absl::string_view link = (*mime)[0]["list_unsubscribe"].get_ref<const std::string&>();
    EXPECT_TRUE(absl::ConsumePrefix(&link, absl::StrCat("<", kUrl)));
    EXPECT_TRUE(absl::ConsumeSuffix(&link, ">"));
    return absl::StrCat("/u", link);
  }

  int Post(const std::string& path) {
    auto answer =
        test_support::Curl(world_.volleyd().http_port(), "POST", path, "List-Unsubscribe=One-Click",
                           "", "application/x-www-form-urlencoded");
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? answer->status : 0;
  }

  int Suppressed(const std::string& recipient, const std::string& tenant) {
    auto r = world_.Api(
        "GET", absl::StrCat("/api/admin/suppression/v1?recipient=", recipient, "&tenant=", tenant));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->status : 0;
  }

  test_support::RelayWorld world_;
  uint64_t sent_ = 0;
};

TEST_F(UnsubscribeTest, BulkMailGetsOneClickHeadersAndAPostSuppressesForItsTenant) {
  const test_support::ReceivedMessage bulk = Send("ann@uns.test", "acme", "winter");
  auto mime = test_support::ReadMime({bulk.content});
  ASSERT_TRUE(mime.ok()) << mime.status();
  EXPECT_EQ((*mime)[0]["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
  const std::string path = LinkPath(bulk);
  ASSERT_FALSE(path.empty());

  // Transactional mail (no campaign) and a tenant that has it off get no link.
  EXPECT_EQ(LinkPath(Send("ann@uns.test", "acme", "")), "");
  EXPECT_EQ(LinkPath(Send("ann@uns.test", "quiet", "winter")), "");

  // A GET (a scanner, a browser) unsubscribes nobody.
  auto page = test_support::HttpGet("127.0.0.1", world_.volleyd().http_port(), path);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(Suppressed("ann%40uns.test", "acme"), 404);

  EXPECT_EQ(Post(path), 200);
  EXPECT_EQ(Suppressed("ann%40uns.test", "acme"), 200);
  EXPECT_EQ(Suppressed("ann%40uns.test", "other"), 404) << "another tenant still sends";

  // Logged as an Unsubscribe record, with the link's tenant and campaign.
  std::vector<test_support::LogEntry> unsubscribed;
  for (int i = 0; i < 400 && unsubscribed.empty(); ++i) {
    for (const auto& e : test_support::ReadDeliveryLog(world_.log_path())) {
      if (e.type == "Unsubscribe") unsubscribed.push_back(e);
    }
    if (unsubscribed.empty()) absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_EQ(unsubscribed.size(), 1u);
  EXPECT_EQ(unsubscribed[0].recipient, "ann@uns.test");
  EXPECT_EQ(unsubscribed[0].raw["tenant"], "acme");
  EXPECT_EQ(unsubscribed[0].raw["campaign"], "winter");
  EXPECT_EQ(unsubscribed[0].peer_address, "127.0.0.1");

  // The next message of that tenant to the recipient is not sent; another tenant's is.
  json request = {{"envelope_sender", "s@volley.test"},
                  {"recipients", {{{"email", "ann@uns.test"}}}},
                  {"content", "From: s@volley.test\r\nSubject: again\r\n\r\nhello\r\n"},
                  {"tenant", "acme"},
                  {"campaign", "spring"}};
  auto again =
      test_support::Curl(world_.volleyd().http_port(), "POST", "/api/inject/v1", request.dump());
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(json::parse(again->body)["fail_count"], 1);
  EXPECT_TRUE(
      absl::StrContains(json::parse(again->body)["errors"][0].get<std::string>(), "suppression"))
      << again->body;
  Send("ann@uns.test", "other", "spring");
}

TEST_F(UnsubscribeTest, ForgedAndExpiredLinksSuppressNothing) {
  const std::string path = LinkPath(Send("bob@uns.test", "acme", "winter"));
  ASSERT_FALSE(path.empty());
  std::string forged = path;
  char& c = forged[forged.size() - 3];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(Post(forged), 403);
  EXPECT_EQ(Post("/u/not-a-token"), 400);
  // The links live two seconds here. A GET checks a link without using it: once it answers
  // 410 (a bounded wait), the POST is refused as well.
  int status = 0;
  for (int i = 0; i < 100 && status != 410; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    auto page = test_support::HttpGet("127.0.0.1", world_.volleyd().http_port(), path);
    ASSERT_TRUE(page.ok());
    status = page->status;
  }
  ASSERT_EQ(status, 410) << "the link did not expire";
  EXPECT_EQ(Post(path), 410);
  EXPECT_EQ(Suppressed("bob%40uns.test", "acme"), 404);
  // A record written after the refusals is in the log before the check: had a refused link
  // been recorded, its record would be there too.
  Send("barrier@uns.test", "acme", "");
  auto log =
      test_support::WaitForFinalRecords(world_.log_path(), {"barrier@uns.test"}, absl::Seconds(30));
  ASSERT_TRUE(log.ok()) << log.status();
  for (const auto& e : *log) EXPECT_NE(e.type, "Unsubscribe");
}

}  // namespace
}  // namespace volley
