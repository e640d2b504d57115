#include "engine/inject/inject_v1_builder.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/json_request.h"
#include "gtest/gtest.h"

namespace volley::inject {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1790000000);

std::unique_ptr<InjectV1Builder> Create(const std::string& body, uint64_t max_size = 1 << 20) {
  absl::StatusOr<InjectV1Request> request = ParseInjectV1Request(body, InjectV1Limits());
  EXPECT_TRUE(request.ok()) << request.status();
  if (!request.ok()) return nullptr;
  BuildOptions options;
  options.hostname = "mta.example.net";
  options.max_message_size = max_size;
  absl::StatusOr<std::unique_ptr<InjectV1Builder>> builder =
      InjectV1Builder::Create(*std::move(request), options);
  EXPECT_TRUE(builder.ok()) << builder.status();
  return builder.ok() ? *std::move(builder) : nullptr;
}

absl::Status CreateError(const std::string& body) {
  absl::StatusOr<InjectV1Request> request = ParseInjectV1Request(body, InjectV1Limits());
  if (!request.ok()) return request.status();
  absl::StatusOr<std::unique_ptr<InjectV1Builder>> builder =
      InjectV1Builder::Create(*std::move(request), BuildOptions());
  return builder.status();
}

std::string Structured(const std::string& recipients, const std::string& content_fields,
                       const std::string& extra = "") {
  return absl::StrCat(R"({"envelope_sender": "s@example.net", "recipients": )", recipients,
                      R"(, "content": {"from": {"email": "news@example.net", "name": "News"}, )",
                      content_fields, "}", extra, "}");
}

TEST(InjectV1BuilderTest, StructuredContentPerRecipient) {
  auto b = Create(Structured(
      R"([{"email": "ann@example.com", "name": "Ann", "substitutions": {"code": "A1"},
           "metadata": {"k": 1}},
          {"email": "bob@example.com"}])",
      R"("subject": "Hi {{ name }}", "text_body": "code {{ code }} for {{ email }}",
         "headers": {"X-Volley-Campaign": "from-header"})",
      R"(, "substitutions": {"code": "G0", "name": "friend"}, "tenant": "acme")"));
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->recipients(), 2u);
  absl::StatusOr<BuiltMessage> ann = b->Build(0, kNow);
  ASSERT_TRUE(ann.ok()) << ann.status();
  EXPECT_TRUE(absl::StrContains(ann->content, "Subject: Hi Ann\r\n")) << ann->content;
  EXPECT_TRUE(absl::StrContains(ann->content, "To: Ann <ann@example.com>\r\n")) << ann->content;
  EXPECT_TRUE(absl::StrContains(ann->content, "code A1 for ann@example.com")) << ann->content;
  EXPECT_TRUE(absl::StrContains(ann->content, "@mta.example.net>\r\n")) << ann->content;
  EXPECT_FALSE(absl::StrContains(ann->content, "X-Volley-Campaign")) << "a control header";
  EXPECT_EQ(ann->tags.tenant, "acme");
  EXPECT_EQ(ann->tags.campaign, "from-header");
  EXPECT_EQ(ann->metadata, R"({"k":1})");
  EXPECT_FALSE(ann->smtputf8);
  absl::StatusOr<BuiltMessage> bob = b->Build(1, kNow);
  ASSERT_TRUE(bob.ok()) << bob.status();
  // Without a name of its own the request's substitution stands.
  EXPECT_TRUE(absl::StrContains(bob->content, "Subject: Hi friend\r\n")) << bob->content;
  EXPECT_TRUE(absl::StrContains(bob->content, "code G0 for bob@example.com")) << bob->content;
  EXPECT_EQ(bob->metadata, "");
  // Each message has a Message-ID of its own.
  auto id = [](const std::string& m) {
    const size_t at = m.find("Message-ID: ");
    return m.substr(at, m.find("\r\n", at) - at);
  };
  EXPECT_NE(id(ann->content), id(bob->content));
}

TEST(InjectV1BuilderTest, RawContentIsExpandedAndNormalised) {
  auto b = Create(R"({"envelope_sender": "", "recipients": [{"email": "zoë@example.com",
      "name": "Zoë"}], "campaign": "request-wins",
      "content": "From: a@example.net\nTo: {{ to_header }}\nX-Volley-Campaign: header\nX-Volley-Tenant: t1\nSubject: {{ name }}\n\nline\n"})");
  ASSERT_NE(b, nullptr);
  absl::StatusOr<BuiltMessage> m = b->Build(0, kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(absl::StrContains(m->content, "\n\n"));
  EXPECT_TRUE(absl::StrContains(m->content, "Subject: Zoë\r\n\r\nline\r\n")) << m->content;
  EXPECT_FALSE(absl::StrContains(m->content, "X-Volley-")) << m->content;
  EXPECT_EQ(m->tags.tenant, "t1");
  EXPECT_EQ(m->tags.campaign, "request-wins");
  EXPECT_TRUE(m->smtputf8) << "a non-ASCII recipient";
}

TEST(InjectV1BuilderTest, ContentThatCannotBeBuiltForAnyoneFailsCreate) {
  absl::Status parse = CreateError(
      Structured(R"([{"email": "a@example.com"}])", R"("text_body": "{{#never closed")"));
  EXPECT_EQ(FieldOf(parse), "content.text_body") << parse;
  absl::Status no_from = CreateError(
      R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@example.com"}],
          "content": {"text_body": "b"}})");
  EXPECT_EQ(FieldOf(no_from), "content.from") << no_from;
  // A From among the headers is as good.
  EXPECT_TRUE(CreateError(R"({"envelope_sender": "s@example.net",
      "recipients": [{"email": "a@example.com"}],
      "content": {"text_body": "b", "headers": {"From": "x@example.net"}}})")
                  .ok());
}

TEST(InjectV1BuilderTest, ARecipientFailsAloneForWhatIsItsOwn) {
  auto b = Create(Structured(
      R"([{"email": "no-domain"},
          {"email": "a@example.com", "name": "x\r\nBcc: evil@example.com"},
          {"email": "b@example.com", "substitutions": {"v": "y\nBcc: evil@example.com"}},
          {"email": "c@example.com", "substitutions": {"v": "fine"}}])",
      R"("subject": "s {{{ v }}}", "text_body": "b")"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(FieldOf(b->Build(0, kNow).status()), "email");
  EXPECT_EQ(FieldOf(b->Build(1, kNow).status()), "name");
  EXPECT_EQ(FieldOf(b->Build(2, kNow).status()), "content.subject");
  EXPECT_TRUE(b->Build(3, kNow).ok());
}

TEST(InjectV1BuilderTest, RawContentMustBeAMessageSmtpCanCarry) {
  auto build = [](const std::string& content, uint64_t max = 1 << 20) {
    const std::string body = absl::StrCat(
        R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@example.com"}],
            "template_dialect": "Static", "content": )",
        content, "}");
    auto b = Create(body, max);
    if (b == nullptr) return absl::InternalError("no builder");
    return b->Build(0, kNow).status();
  };
  EXPECT_TRUE(build(R"("Subject: x\r\n\r\nbody")").ok());
  EXPECT_FALSE(build(absl::StrCat(R"("Subject: x\r\n\r\n)", std::string(999, 'a'), R"(")")).ok());
  EXPECT_TRUE(build(absl::StrCat(R"("Subject: x\r\n\r\n)", std::string(998, 'a'), R"(")")).ok());
  EXPECT_FALSE(build(R"("Subject: x\r\n\r\nnul \u0000 here")").ok());
  EXPECT_FALSE(build(R"("just text, no header\r\n")").ok());
  EXPECT_FALSE(build(R"("Subject: x\r\n\r\nbody")", 10).ok()) << "beyond the size limit";
}

}  // namespace
}  // namespace volley::inject
