#include "engine/bounce/list_unsubscribe.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1790000000);

ListUnsubscribe Make(bool enabled = true, absl::flat_hash_map<std::string, bool> tenants = {}) {
  ListUnsubscribeOptions options;
  options.url = "https://mta.example.net/u";
  options.expire_after = absl::Hours(24);
  options.enabled = enabled;
  options.tenants = std::move(tenants);
  return ListUnsubscribe(options, std::make_shared<UnsubscribeTokens>(std::string(32, 'k')));
}

message::MessageTags Campaign(std::string tenant = "acme") {
  message::MessageTags tags;
  tags.tenant = std::move(tenant);
  tags.campaign = "fall";
  return tags;
}

TEST(ListUnsubscribeTest, BulkMailGetsBothFieldsWithALinkThatVerifies) {
  ListUnsubscribe lu = Make();
  const std::string fields =
      lu.HeadersFor(Campaign(), "Ann@Example.COM", 1, "Subject: x\r\n\r\nbody\r\n", kNow);
  ASSERT_TRUE(absl::StartsWith(fields, "List-Unsubscribe: <https://mta.example.net/u/")) << fields;
  EXPECT_TRUE(absl::EndsWith(fields, ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
      << fields;
  absl::string_view token = fields;
  absl::ConsumePrefix(&token, "List-Unsubscribe: <https://mta.example.net/u/");
  token = token.substr(0, token.find('>'));
  absl::StatusOr<UnsubscribeClaim> claim = lu.tokens().Verify(token, kNow + absl::Hours(1));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->recipient, "ann@example.com");
  EXPECT_EQ(claim->tenant, "acme");
  EXPECT_EQ(claim->campaign, "fall");
  EXPECT_FALSE(lu.tokens().Verify(token, kNow + absl::Hours(25)).ok()) << "expired";
}

TEST(ListUnsubscribeTest, OnlyBulkMailOfOneRecipientWithoutItsOwnLinks) {
  ListUnsubscribe lu = Make();
  const std::string plain = "Subject: x\r\n\r\nbody\r\n";
  message::MessageTags transactional;  // no campaign, normal priority
  EXPECT_EQ(lu.HeadersFor(transactional, "a@example.com", 1, plain, kNow), "");
  message::MessageTags bulk;
  bulk.priority = message::kPriorityBulk;
  EXPECT_NE(lu.HeadersFor(bulk, "a@example.com", 1, plain, kNow), "");
  EXPECT_EQ(lu.HeadersFor(Campaign(), "a@example.com", 2, plain, kNow), "");
  EXPECT_EQ(
      lu.HeadersFor(Campaign(), "a@example.com", 1,
                    "List-Unsubscribe: <mailto:u@example.net>\r\nSubject: x\r\n\r\nb\r\n", kNow),
      "");
}

TEST(ListUnsubscribeTest, TenantsTurnItOnAndOff) {
  const std::string plain = "Subject: x\r\n\r\nbody\r\n";
  ListUnsubscribe on_by_default = Make(true, {{"quiet", false}});
  EXPECT_NE(on_by_default.HeadersFor(Campaign("acme"), "a@example.com", 1, plain, kNow), "");
  EXPECT_EQ(on_by_default.HeadersFor(Campaign("quiet"), "a@example.com", 1, plain, kNow), "");
  ListUnsubscribe off_by_default = Make(false, {{"acme", true}});
  EXPECT_NE(off_by_default.HeadersFor(Campaign("acme"), "a@example.com", 1, plain, kNow), "");
  EXPECT_EQ(off_by_default.HeadersFor(Campaign("other"), "a@example.com", 1, plain, kNow), "");
}

}  // namespace
}  // namespace volley::bounce
