// POST /api/inject/v1 against a real volleyd and sink, with curl as the client: structured
// content becomes valid MIME as Python's email package reads it (parts, encodings, RFC 2047
// headers, attachments byte for byte, names substituted and HTML-escaped where they belong);
// raw content is expanded and normalised; every bad request gets its status and stores nothing.
#include "tests/support/http_inject.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/relay_world.h"

namespace volley {
namespace {

using nlohmann::json;

constexpr char kToken[] = "test-inject-token-0123456789";

class HttpInjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::RelayOptions options;
    options.name = "http_inject";
    options.domains = {"inj.test"};
    options.sink.record = true;
    options.http = absl::StrCat("inject_token = \"", kToken,
                                "\"\nmax_request_size = \"256KiB\"\ninject_max_recipients = 20\n");
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  test_support::CurlAnswer Inject(const std::string& body, const std::string& auth = kToken) {
    const std::string header =
        auth.empty() ? "" : absl::StrCat("-H 'Authorization: Bearer ", auth, "'");
    auto answer =
        test_support::Curl(world_.volleyd().http_port(), "POST", "/api/inject/v1", body, header);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? *answer : test_support::CurlAnswer{};
  }

  // The messages the sink received, waiting (bounded) for `n`, sorted by recipient.
  std::vector<test_support::ReceivedMessage> Received(size_t n) {
    EXPECT_TRUE(world_.sink().WaitForMessages(n, absl::Seconds(30)));
    std::vector<test_support::ReceivedMessage> m = world_.sink().TakeMessages();
    std::sort(m.begin(), m.end(),
              [](const auto& a, const auto& b) { return a.recipients < b.recipients; });
    return m;
  }

  json Mime(const std::vector<test_support::ReceivedMessage>& messages) {
    std::vector<std::string> contents;
    for (const auto& m : messages) contents.push_back(m.content);
    auto parsed = test_support::ReadMime(contents);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed.ok() ? *parsed : json::array();
  }

  test_support::RelayWorld world_;
};

// Every byte value, for an attachment that must come back unchanged.
std::string AllBytes() {
  std::string s;
  for (int round = 0; round < 3; ++round) {
    for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
  }
  return s;
}

const json* PartOfType(const json& message, const std::string& type) {
  for (const json& p : message["parts"]) {
    if (p["content_type"] == type) return &p;
  }
  return nullptr;
}

TEST_F(HttpInjectTest, StructuredContentArrivesAsValidMimeForEachRecipient) {
  const std::string pdf = AllBytes();
  const std::string gif = "GIF89a\x01\x00\x01\x00\x80\x00\x00";
  const json request = {
      {"envelope_sender", "bounces@volley.test"},
      {"tenant", "acme"},
      {"campaign", "winter"},
      {"substitutions", {{"brand", "Acme Ünited"}}},
      {"recipients",
       {{{"email", "ann@inj.test"},
         {"name", "Zoë Ünal"},
         {"substitutions", {{"code", "A-1"}}},
         {"metadata", {{"uid", "u-1"}}}},
        {{"email", "bob@inj.test"},
         {"name", "Bob & <Jim>"},
         {"substitutions", {{"code", "B-2"}}}}}},
      {"content",
       {{"subject", "Grüße {{ name }} from {{ brand }}"},
        {"from", {{"email", "news@volley.test"}, {"name", "Acme Newsletter"}}},
        {"reply_to", {{"email", "help@volley.test"}}},
        {"headers", {{"X-Campaign-Ref", "ref {{ code }}"}}},
        {"text_body", "Hello {{ name }}, your code is {{ code }}.\nBye"},
        {"html_body", "<p>Hello {{ name }}, code <b>{{ code }}</b></p><img src=\"cid:logo\">"},
        {"attachments",
         {{{"data", absl::Base64Escape(pdf)},
           {"base64", true},
           {"content_type", "application/pdf"},
           {"file_name", "Rechnung März.pdf"}},
          {{"data", absl::Base64Escape(gif)},
           {"base64", true},
           {"content_type", "image/gif"},
           {"content_id", "logo"},
           {"file_name", "logo.gif"}}}}}}};
  const test_support::CurlAnswer answer = Inject(request.dump());
  ASSERT_EQ(answer.status, 200) << answer.body;
  const json response = json::parse(answer.body);
  EXPECT_EQ(response["success_count"], 2);
  EXPECT_EQ(response["fail_count"], 0);
  EXPECT_TRUE(response["failed_recipients"].empty());
  EXPECT_TRUE(response["errors"].empty());

  const auto received = Received(2);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].mail_from, "bounces@volley.test");
  EXPECT_EQ(received[0].recipients, std::vector<std::string>{"ann@inj.test"});
  EXPECT_EQ(received[1].recipients, std::vector<std::string>{"bob@inj.test"});
  const json mime = Mime(received);
  ASSERT_EQ(mime.size(), 2u);
  const struct { std::string name, code; } expect[] = {{"Zoë Ünal", "A-1"}, {"Bob & <Jim>", "B-2"}};
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(expect[i].name);
    const json& m = mime[i];
    EXPECT_TRUE(m["defects"].empty()) << m["defects"].dump();
    EXPECT_EQ(m["subject"], absl::StrCat("Grüße ", expect[i].name, " from Acme Ünited"));
    // Non-ASCII headers travel as RFC 2047 encoded words, never as raw UTF-8.
    EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(m["raw_headers"].get<std::string>()),
                                  "subject: =?utf-8?"))
        << m["raw_headers"];
    EXPECT_FALSE(m["raw_headers"].get<std::string>().find("Grüße") != std::string::npos);
    if (i == 0) {
      EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(m["raw_headers"].get<std::string>()),
                                    "to: =?utf-8?"))
          << m["raw_headers"];
    }
    EXPECT_EQ(m["from"], json::array({{"Acme Newsletter", "news@volley.test"}}));
    EXPECT_EQ(m["to"][0][0], expect[i].name);
    EXPECT_EQ(m["reply_to"], json::array({{"", "help@volley.test"}}));
    EXPECT_TRUE(m["date"].get<bool>());
    EXPECT_TRUE(absl::EndsWith(m["message_id"].get<std::string>(), "@volley.localdomain>"))
        << m["message_id"];
    EXPECT_EQ(m["mime_version"], "1.0");
    EXPECT_LE(m["max_line"].get<int>(), 998);
    EXPECT_FALSE(m["bare_lf"].get<bool>());
    EXPECT_EQ(m["tree"], json::parse(R"({"multipart/mixed": [{"multipart/related": [
                  {"multipart/alternative": ["text/plain", "text/html"]}, "image/gif"]},
                  "application/pdf"]})"));
    const json* text = PartOfType(m, "text/plain");
    const json* html = PartOfType(m, "text/html");
    const json* pdf_part = PartOfType(m, "application/pdf");
    const json* gif_part = PartOfType(m, "image/gif");
    ASSERT_TRUE(text && html && pdf_part && gif_part);
    EXPECT_EQ((*text)["text"],
              absl::StrCat("Hello ", expect[i].name, ", your code is ", expect[i].code, ".\nBye"));
    // The non-ASCII text goes quoted-printable (mostly ASCII); the ASCII one as 7bit.
    EXPECT_EQ((*text)["cte"], i == 0 ? "quoted-printable" : "7bit");
    const std::string escaped = i == 0 ? "Zoë Ünal" : "Bob &amp; &lt;Jim&gt;";
    EXPECT_TRUE(absl::StrContains(
        (*html)["text"].get<std::string>(),
        absl::StrCat("<p>Hello ", escaped, ", code <b>", expect[i].code, "</b></p>")))
        << (*html)["text"];
    EXPECT_EQ((*pdf_part)["cte"], "base64");
    EXPECT_EQ((*pdf_part)["filename"], "Rechnung März.pdf");
    EXPECT_EQ((*pdf_part)["disposition"], "attachment");
    EXPECT_EQ((*pdf_part)["payload_b64"], absl::Base64Escape(pdf));
    EXPECT_EQ((*gif_part)["payload_b64"], absl::Base64Escape(gif));
    EXPECT_EQ((*gif_part)["content_id"], "<logo>");
    EXPECT_EQ((*gif_part)["disposition"], "inline");
    // Volley's own trace field is there, and the X-Volley-* controls never are.
    EXPECT_TRUE(absl::StrContains(m["raw_headers"].get<std::string>(), "with HTTP id"))
        << m["raw_headers"];
    bool has_ref = false;
    for (const json& name : m["header_names"]) has_ref = has_ref || name == "X-Campaign-Ref";
    EXPECT_TRUE(has_ref);
  }

  // The Reception records carry the tags and the recipient's metadata.
  auto log = test_support::WaitForFinalRecords(world_.log_path(), {"ann@inj.test", "bob@inj.test"},
                                               absl::Seconds(30));
  ASSERT_TRUE(log.ok()) << log.status();
  for (const test_support::LogEntry& e : test_support::EntriesFor(*log, "ann@inj.test")) {
    EXPECT_EQ(e.raw["tenant"], "acme");
    EXPECT_EQ(e.raw["campaign"], "winter");
    EXPECT_EQ(e.raw["meta"], json({{"uid", "u-1"}}));
  }
  for (const test_support::LogEntry& e : test_support::EntriesFor(*log, "bob@inj.test")) {
    EXPECT_EQ(e.raw["meta"], json::object());
  }
}

TEST_F(HttpInjectTest, RawContentIsExpandedPerRecipientAndNormalised) {
  const json request = {
      {"envelope_sender", "s@volley.test"},
      {"recipients",
       {{{"email", "cy@inj.test"}, {"name", "Cy"}}, {{"email", "di@inj.test"}, {"name", "Di"}}}},
      {"content",
       "From: s@volley.test\nTo: {{ to_header }}\nSubject: Hi {{ name }}\n"
       "X-Volley-Tenant: rawtenant\n\nDear {{ name }} <{{ email }}>,\n.\nend\n"}};
  const test_support::CurlAnswer answer = Inject(request.dump());
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(json::parse(answer.body)["success_count"], 2);
  const auto received = Received(2);
  ASSERT_EQ(received.size(), 2u);
  const json mime = Mime(received);
  ASSERT_EQ(mime.size(), 2u);
  EXPECT_EQ(mime[0]["subject"], "Hi Cy");
  EXPECT_EQ(mime[0]["to"], json::array({{"Cy", "cy@inj.test"}}));
  EXPECT_EQ(mime[1]["subject"], "Hi Di");
  EXPECT_FALSE(mime[0]["bare_lf"].get<bool>());
  EXPECT_TRUE(absl::StrContains(mime[0]["parts"][0]["text"].get<std::string>(),
                                "Dear Cy <cy@inj.test>,\n.\nend"))
      << mime[0]["parts"][0]["text"];
  for (const json& name : mime[0]["header_names"]) EXPECT_NE(name, "X-Volley-Tenant");
  auto log =
      test_support::WaitForFinalRecords(world_.log_path(), {"cy@inj.test"}, absl::Seconds(30));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(test_support::EntriesFor(*log, "cy@inj.test").front().raw["tenant"], "rawtenant");
}

TEST_F(HttpInjectTest, EveryBadRequestGetsItsStatusAndStoresNothing) {
  const std::string good_content =
      R"("content": {"from": {"email": "s@volley.test"}, "subject": "s", "text_body": "b"})";
  auto body = [&](const std::string& recipients, const std::string& content) {
    return absl::StrCat(R"({"envelope_sender": "s@volley.test", "recipients": )", recipients, ", ",
                        content, "}");
  };
  const std::string one = R"([{"email": "x@inj.test"}])";
  struct Case {
    std::string what, body;
    int status;
    std::string field;
  };
  std::string many = "[";
  for (int i = 0; i < 21; ++i) absl::StrAppend(&many, i ? "," : "", R"({"email": "m@inj.test"})");
  many += "]";
  const std::vector<Case> cases = {
      {"not JSON", "{\"envelope_sender\": ", 400, ""},
      {"missing sender", absl::StrCat(R"({"recipients": )", one, ", ", good_content, "}"), 400,
       "envelope_sender"},
      {"unknown field", body(one, good_content + R"(, "recipents": [])"), 400, "recipents"},
      {"mistyped email", body(R"([{"email": 7}])", good_content), 400, "recipients[0].email"},
      {"bad attachment", body(one, R"("content": {"from": {"email": "s@volley.test"},
          "attachments": [{"data": "%%%", "base64": true, "content_type": "a/b"}]})"),
       400, "content.attachments[0].data"},
      {"too many recipients", body(many, good_content), 413, "recipients"},
      {"template does not parse",
       body(one, R"("content": {"from": {"email": "s@volley.test"}, "text_body": "{{#x}}"})"), 422,
       "content.text_body"},
      {"no From", body(one, R"("content": {"text_body": "b"})"), 422, "content.from"},
      {"a line break in a header value",
       body(one, R"("content": {"from": {"email": "s@volley.test"}, "text_body": "b",
                    "headers": {"X-Ref": "v\r\nBcc: evil@inj.test"}})"),
       422, "content.headers.X-Ref"},
      {"a line break in the sender",
       absl::StrCat(R"({"envelope_sender": "s@volley.test\r\nRCPT TO:<x@y.z>", "recipients": )",
                    one, ", ", good_content, "}"),
       400, "envelope_sender"},
      {"line too long",
       body(one, absl::StrCat(R"("content": "Subject: x\r\n\r\n)", std::string(1200, 'a'), R"(")")),
       422, "content"},
      {"header injection in every recipient",
       body(R"([{"email": "x@inj.test", "substitutions": {"v": "a\r\nBcc: evil@inj.test"}}])",
            R"("content": {"from": {"email": "s@volley.test"}, "subject": "Hi {{{ v }}}",
                "text_body": "b"})"),
       422, "content.subject"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const test_support::CurlAnswer answer = Inject(c.body);
    EXPECT_EQ(answer.status, c.status) << answer.body;
    const json error = json::parse(answer.body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << answer.body;
    if (!c.field.empty()) {
      EXPECT_EQ(error["field"], c.field) << answer.body;
    }
    EXPECT_TRUE(error["error"].is_string()) << answer.body;
  }
  // Beyond max_request_size: 413 before the body is read.
  EXPECT_EQ(Inject(body(one, absl::StrCat(R"("content": {"from": {"email": "s@volley.test"},
                                              "text_body": ")",
                                          std::string(300 << 10, 'a'), R"("})")))
                .status,
            413);
  // The token: none is 401, another 403.
  EXPECT_EQ(Inject(body(one, good_content), "").status, 401);
  EXPECT_EQ(Inject(body(one, good_content), "not-the-token-0123456789").status, 403);

  // One recipient whose name would inject a header fails alone; the other is stored.
  const test_support::CurlAnswer partial = Inject(body(
      R"([{"email": "ok@inj.test", "name": "Fine"},
          {"email": "evil@inj.test", "name": "a\nBcc: victim@inj.test"},
          {"email": "no-domain"}, {"email": "crlf@inj.test\r\nRCPT TO:<x@inj.test>"}])",
      R"("content": {"from": {"email": "s@volley.test"}, "subject": "Hi {{ name }}",
          "text_body": "b"})"));
  ASSERT_EQ(partial.status, 200) << partial.body;
  const json p = json::parse(partial.body);
  EXPECT_EQ(p["success_count"], 1);
  EXPECT_EQ(p["fail_count"], 3);
  EXPECT_EQ(p["failed_recipients"],
            json::array({"evil@inj.test", "no-domain", "crlf@inj.test\r\nRCPT TO:<x@inj.test>"}));
  ASSERT_EQ(p["errors"].size(), 3u);
  EXPECT_TRUE(absl::StrContains(p["errors"][0].get<std::string>(), "line break")) << p.dump();

  // Nothing but the one good message arrived, and nothing else was logged as received.
  const auto received = Received(1);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].recipients, std::vector<std::string>{"ok@inj.test"});
  auto log =
      test_support::WaitForFinalRecords(world_.log_path(), {"ok@inj.test"}, absl::Seconds(30));
  ASSERT_TRUE(log.ok()) << log.status();
  int receptions = 0;
  for (const test_support::LogEntry& e : *log) receptions += e.type == "Reception";
  EXPECT_EQ(receptions, 1);
  EXPECT_EQ(world_.sink().messages(), 1u);
  auto metrics = test_support::HttpGet("127.0.0.1", world_.volleyd().http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(
      test_support::MetricValue(metrics->body, "volley_messages_received_total{listener=\"http\"}"),
      1)
      << metrics->body;
}

TEST(HttpInjectMemoryTest, ARequestBeyondTheInjectionMemoryBudgetIs503AndStoresNothing) {
  test_support::RelayWorld world;
  test_support::RelayOptions options;
  options.name = "http_inject_memory";
  options.domains = {"mem.test"};
  options.config = "[inject]\nmax_memory = \"2MiB\"\n";
  ASSERT_TRUE(world.Start(std::move(options)).ok());
  auto request = [](size_t body_size) {
    return json({{"envelope_sender", "s@volley.test"},
                 {"recipients", {{{"email", "m@mem.test"}}}},
                 {"content",
                  {{"from", {{"email", "s@volley.test"}}},
                   {"text_body", std::string(body_size, 'a')}}}})
        .dump();
  };
  // 600 KB of body: with its parse and its message, more than the 2 MiB budget.
  auto big =
      test_support::Curl(world.volleyd().http_port(), "POST", "/api/inject/v1", request(600 << 10));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->status, 503) << big->body;
  EXPECT_TRUE(absl::StrContains(big->body, "max_memory")) << big->body;
  // A small one fits, and is the only message that arrives.
  auto small =
      test_support::Curl(world.volleyd().http_port(), "POST", "/api/inject/v1", request(100));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->status, 200) << small->body;
  ASSERT_TRUE(world.sink().WaitForMessages(1, absl::Seconds(30)));
  auto log = test_support::WaitForFinalRecords(world.log_path(), {"m@mem.test"}, absl::Seconds(30));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(test_support::TypesFor(*log, "m@mem.test"),
            (std::vector<std::string>{"Reception", "Delivery"}));
}

}  // namespace
}  // namespace volley
