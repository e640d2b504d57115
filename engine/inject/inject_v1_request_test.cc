#include "engine/inject/inject_v1_request.h"

#include <string>

#include "engine/base/json_request.h"
#include "gtest/gtest.h"

namespace volley::inject {
namespace {

absl::StatusOr<InjectV1Request> Parse(const std::string& body, size_t max_recipients = 100) {
  InjectV1Limits limits;
  limits.max_recipients = max_recipients;
  return ParseInjectV1Request(body, limits);
}

// The field a refused body is refused for.
std::string RefusedField(const std::string& body) {
  absl::StatusOr<InjectV1Request> r = Parse(body);
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return "(accepted)";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  return FieldOf(r.status());
}

TEST(InjectV1RequestTest, ReadsKumoMtaStructuredRequest) {
  absl::StatusOr<InjectV1Request> r = Parse(R"({
    "envelope_sender": "bounce@example.net",
    "recipients": [
      {"email": "a@example.com", "name": "Ann", "substitutions": {"code": 7},
       "metadata": {"uid": "u1", "n": 2}},
      {"email": "b@example.com"}
    ],
    "content": {
      "subject": "Hi {{ name }}",
      "from": {"email": "news@example.net", "name": "News"},
      "reply_to": {"email": "help@example.net"},
      "text_body": "t", "html_body": "<p>h</p>",
      "headers": {"X-B": "2", "X-A": "1"},
      "attachments": [{"data": "AAEC/w==", "base64": true, "content_type": "image/gif",
                       "file_name": "p.gif", "content_id": "px"},
                      {"data": "plain text", "content_type": "text/plain"}]
    },
    "substitutions": {"brand": "X"},
    "template_dialect": "Mustache",
    "tenant": "acme", "campaign": "fall-2026", "priority": "bulk",
    "deferred_spool": false
  })");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->envelope_sender, "bounce@example.net");
  ASSERT_EQ(r->recipients.size(), 2u);
  EXPECT_EQ(r->recipients[0].name, "Ann");
  EXPECT_EQ(r->recipients[0].substitutions["code"], 7);
  EXPECT_EQ(r->recipients[0].metadata, R"({"n":2,"uid":"u1"})");
  EXPECT_FALSE(r->recipients[1].name.has_value());
  EXPECT_EQ(r->recipients[1].metadata, "");
  EXPECT_FALSE(r->raw);
  const V1StructuredContent& c = r->structured;
  EXPECT_EQ(c.subject, "Hi {{ name }}");
  ASSERT_TRUE(c.from.has_value());
  EXPECT_EQ(c.from->name, "News");
  ASSERT_TRUE(c.reply_to.has_value());
  EXPECT_EQ(c.reply_to->email, "help@example.net");
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.headers[0].first, "X-A");  // name order, as KumoMTA's map
  ASSERT_EQ(c.attachments.size(), 2u);
  EXPECT_EQ(c.attachments[0].data, std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(c.attachments[0].content_id, "px");
  EXPECT_EQ(c.attachments[1].data, "plain text");  // without base64: the text itself
  EXPECT_EQ(r->substitutions["brand"], "X");
  EXPECT_EQ(r->tenant, "acme");
  EXPECT_EQ(r->campaign, "fall-2026");
  EXPECT_EQ(r->priority, 2);
}

TEST(InjectV1RequestTest, ReadsRawContentAndDefaults) {
  absl::StatusOr<InjectV1Request> r = Parse(
      R"({"envelope_sender": "", "recipients": [{"email": "a@example.com"}],
          "content": "Subject: x\n\nbody", "template_dialect": "Static", "priority": 7})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->raw);
  EXPECT_EQ(r->raw_content, "Subject: x\n\nbody");
  EXPECT_EQ(r->envelope_sender, "");
  EXPECT_EQ(r->dialect, TemplateDialect::kStatic);
  EXPECT_FALSE(r->tenant.has_value());
  EXPECT_EQ(r->priority, 7);
}

TEST(InjectV1RequestTest, NamesTheFieldOfEveryBadInput) {
  const std::string ok_rcpt = R"("recipients": [{"email": "a@example.com"}])";
  const std::string ok_content = R"("content": "Subject: x\n\nb")";
  auto with = [&](const std::string& extra) {
    return "{\"envelope_sender\": \"s@example.net\", " + ok_rcpt + ", " + ok_content + extra + "}";
  };
  EXPECT_EQ(RefusedField("[1,2]"), "");
  EXPECT_EQ(RefusedField("{\"envelope_sender\": "), "");
  EXPECT_EQ(RefusedField("{" + ok_rcpt + ", " + ok_content + "}"), "envelope_sender");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": 5, )" + ok_rcpt + ", " + ok_content + "}"),
            "envelope_sender");
  EXPECT_EQ(
      RefusedField(R"({"envelope_sender": "not an address", )" + ok_rcpt + ", " + ok_content + "}"),
      "envelope_sender");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_content + "}"),
            "recipients");
  EXPECT_EQ(
      RefusedField(R"({"envelope_sender": "s@example.net", "recipients": [], )" + ok_content + "}"),
      "recipients");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", "recipients": [{"name": "x"}], )" +
                         ok_content + "}"),
            "recipients[0].email");
  EXPECT_EQ(
      RefusedField(
          R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@b.c"}, {"email": "d@e.f", "substitutions": []}], )" +
          ok_content + "}"),
      "recipients[1].substitutions");
  EXPECT_EQ(
      RefusedField(
          R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@b.c", "metadata": "x"}], )" +
          ok_content + "}"),
      "recipients[0].metadata");
  EXPECT_EQ(
      RefusedField(
          R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@b.c", "emial": "x"}], )" +
          ok_content + "}"),
      "recipients[0].emial");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_rcpt + "}"), "content");
  EXPECT_EQ(
      RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_rcpt + R"(, "content": 5})"),
      "content");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_rcpt +
                         R"(, "content": {"subject": "x"}})"),
            "content");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_rcpt +
                         R"(, "content": {"text_body": "x", "from": {"email": "bad"}}})"),
            "content.from.email");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_rcpt +
                         R"(, "content": {"text_body": "x", "headers": {"Bad Name": "v"}}})"),
            "content.headers.Bad Name");
  EXPECT_EQ(
      RefusedField(
          R"({"envelope_sender": "s@example.net", )" + ok_rcpt +
          R"(, "content": {"text_body": "x", "attachments": [{"data": "!!", "base64": true, "content_type": "a/b"}]}})"),
      "content.attachments[0].data");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_rcpt +
                         R"(, "content": {"text_body": "x", "attachments": [{"data": "x"}]}})"),
            "content.attachments[0].content_type");
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", )" + ok_rcpt +
                         R"(, "content": {"text_body": "x", "amp_html_body": "x"}})"),
            "content.amp_html_body");
  EXPECT_EQ(RefusedField(with(R"(, "template_dialect": "Jinja")")), "template_dialect");
  EXPECT_EQ(RefusedField(with(R"(, "deferred_generation": true)")), "deferred_generation");
  EXPECT_EQ(RefusedField(with(R"(, "trace_headers": {})")), "trace_headers");
  EXPECT_EQ(RefusedField(with(R"(, "tenant": "no spaces allowed")")), "tenant");
  EXPECT_EQ(RefusedField(with(R"(, "priority": "urgent")")), "priority");
  EXPECT_EQ(RefusedField(with(R"(, "substitutions": "x")")), "substitutions");
  EXPECT_EQ(RefusedField(with(R"(, "sender": "x")")), "sender");
}

TEST(InjectV1RequestTest, TooManyRecipientsIsOutOfRange) {
  std::string recipients;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) recipients += ",";
    recipients += R"({"email": "a@example.com"})";
  }
  absl::StatusOr<InjectV1Request> r =
      Parse(R"({"envelope_sender": "s@example.net", "recipients": [)" + recipients +
                R"(], "content": "Subject: x\n\nb"})",
            /*max_recipients=*/3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("at most 3"), std::string::npos) << r.status();
}

TEST(InjectV1RequestTest, DeepNestingIsRefusedBeforeItIsParsed) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(RefusedField(R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@b.c",
      "substitutions": {"x": )" +
                         deep + R"(}}], "content": "Subject: x\n\nb"})"),
            "");
  // Brackets inside strings do not count; 24 levels in all are fine.
  const std::string fine = std::string(20, '[') + std::string(20, ']');
  absl::StatusOr<InjectV1Request> r = Parse(
      R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@b.c",
          "substitutions": {"x": )" +
      fine + R"(, "s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"["}}],
          "content": "Subject: x\n\nb"})");
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST(InjectV1RequestTest, OversizedMetadataIsRefused) {
  const std::string big(5000, 'x');
  EXPECT_EQ(
      RefusedField(
          R"({"envelope_sender": "s@example.net", "recipients": [{"email": "a@b.c", "metadata": {"k": ")" +
          big + R"("}}], "content": "Subject: x\n\nb"})"),
      "recipients[0].metadata");
}

}  // namespace
}  // namespace volley::inject
