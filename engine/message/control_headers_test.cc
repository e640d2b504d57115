#include "engine/message/control_headers.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::message {
namespace {

TEST(ExtractControlHeaders, ReadsTheThreeFieldsAndRemovesThem) {
  std::string content =
      "From: a@origin.test\r\nX-Volley-Tenant: acme\r\nSubject: hi\r\n"
      "X-Volley-Campaign: spring-2026\r\nX-Volley-Priority: high\r\nTo: b@dest.test\r\n"
      "\r\nbody line\r\n";
  absl::StatusOr<MessageTags> tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(tags->tenant, "acme");
  EXPECT_EQ(tags->campaign, "spring-2026");
  EXPECT_EQ(tags->priority, kPriorityHigh);
  EXPECT_EQ(content, "From: a@origin.test\r\nSubject: hi\r\nTo: b@dest.test\r\n\r\nbody line\r\n");
}

TEST(ExtractControlHeaders, AbsentFieldsGetTheDefaultsAndTheContentIsUntouched) {
  ControlHeaderPolicy policy;
  policy.defaults = {"platform", "misc", 3};
  const std::string original = "Subject: hi\r\n\r\nX-Volley-Tenant: in-the-body\r\n";
  std::string content = original;
  absl::StatusOr<MessageTags> tags = ExtractControlHeaders(policy, &content);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(*tags, (MessageTags{"platform", "misc", 3}));
  EXPECT_EQ(content, original) << "a line in the body is not a header";

  // One field given, the others from the defaults.
  content = "x-volley-priority: 9\r\nSubject: hi\r\n\r\nb\r\n";
  tags = ExtractControlHeaders(policy, &content);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(*tags, (MessageTags{"platform", "misc", 9}));
  EXPECT_EQ(content, "Subject: hi\r\n\r\nb\r\n");

  // No defaults: none and normal.
  content = "Subject: hi\r\n\r\nb\r\n";
  tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(*tags, (MessageTags{"", "", kPriorityNormal}));
}

TEST(ExtractControlHeaders, NamesAreCaseInsensitiveAndValuesUnfoldedAndTrimmed) {
  std::string content =
      "X-VOLLEY-TENANT:   acme  \r\nx-volley-campaign:\r\n\tnewsletter.7\r\n"
      "X-Volley-Priority :\r\n  bulk\r\n \r\nSubject: s\r\n\r\nbody\r\n";
  absl::StatusOr<MessageTags> tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(*tags, (MessageTags{"acme", "newsletter.7", kPriorityBulk}));
  // Every continuation line went with its field.
  EXPECT_EQ(content, "Subject: s\r\n\r\nbody\r\n");
}

TEST(ExtractControlHeaders, TheFirstOfRepeatedFieldsWinsAndAllAreRemoved) {
  std::string content =
      "X-Volley-Tenant: first\r\nSubject: s\r\nX-Volley-Tenant: second\r\n"
      "X-Volley-Tenant: not valid at all\r\n\r\nbody\r\n";
  absl::StatusOr<MessageTags> tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(tags->tenant, "first");
  EXPECT_EQ(content, "Subject: s\r\n\r\nbody\r\n");
}

TEST(ExtractControlHeaders, ABadValueIsRefusedNamingTheHeaderAndTheContentIsKept) {
  const std::string original = "X-Volley-Tenant: acme\r\nX-Volley-Priority: urgent\r\n\r\nbody\r\n";
  std::string content = original;
  absl::StatusOr<MessageTags> tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tags.status().message(),
            "X-Volley-Priority: \"urgent\" is not a priority (high, normal, bulk or a digit 0 to "
            "9)");
  EXPECT_EQ(content, original);

  for (const char* bad :
       {"X-Volley-Tenant: two words\r\n", "X-Volley-Tenant:\r\n",
        "X-Volley-Campaign: \xc3\xa9t\xc3\xa9\r\n", "X-Volley-Priority: 10\r\n"}) {
    content = absl::StrCat(bad, "\r\nbody\r\n");
    tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
    EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    const std::string header(absl::string_view(bad).substr(0, absl::string_view(bad).find(':')));
    EXPECT_TRUE(absl::StartsWith(tags.status().message(), header + ": \"")) << tags.status();
  }
  // Too long: the value is quoted, shortened.
  content = absl::StrCat("X-Volley-Campaign: ", std::string(65, 'c'), "\r\n\r\nb\r\n");
  tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(tags.status().message(), std::string(64, 'c') + "\"..."));
}

TEST(ExtractControlHeaders, ConfiguredNamesReplaceTheDefaultOnes) {
  ControlHeaderPolicy policy;
  policy.tenant_header = "X-Customer";
  policy.campaign_header = "X-Mailing";
  policy.priority_header = "X-Prio";
  std::string content =
      "X-Customer: c1\r\nX-Volley-Tenant: stays\r\nX-Mailing: m1\r\nX-Prio: 0\r\n\r\nb\r\n";
  absl::StatusOr<MessageTags> tags = ExtractControlHeaders(policy, &content);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(*tags, (MessageTags{"c1", "m1", 0}));
  EXPECT_EQ(content, "X-Volley-Tenant: stays\r\n\r\nb\r\n");
  // The error names the header as configured.
  content = "x-prio: soon\r\n\r\nb\r\n";
  EXPECT_TRUE(absl::StartsWith(ExtractControlHeaders(policy, &content).status().message(),
                               "X-Prio: \"soon\""));
}

TEST(ExtractControlHeaders, BareLineFeedsAMessageOfOnlyHeadersAndManyRepeats) {
  std::string content = "X-Volley-Tenant: t\nSubject: s\n\nbody\n";
  ASSERT_TRUE(ExtractControlHeaders(ControlHeaderPolicy(), &content).ok());
  EXPECT_EQ(content, "Subject: s\n\nbody\n");

  content = "X-Volley-Priority: 1\r\nX-Volley-Tenant: t\r\n";
  absl::StatusOr<MessageTags> tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->priority, 1);
  EXPECT_EQ(content, "");

  // Thousands of repeated fields are all removed, in one pass.
  std::string many;
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&many, "X-Volley-Campaign: c", i, "\r\n");
  content = absl::StrCat("Subject: s\r\n", many, "To: t@x.test\r\n\r\n", std::string(100000, 'b'));
  tags = ExtractControlHeaders(ControlHeaderPolicy(), &content);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->campaign, "c0");
  EXPECT_EQ(content, absl::StrCat("Subject: s\r\nTo: t@x.test\r\n\r\n", std::string(100000, 'b')));
}

}  // namespace
}  // namespace volley::message
