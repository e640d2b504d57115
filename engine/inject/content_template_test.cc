#include "engine/inject/content_template.h"

#include <memory>
#include <string>

#include "engine/base/json_request.h"
#include "gtest/gtest.h"

namespace volley::inject {
namespace {

using Escape = ContentTemplate::Escape;

std::unique_ptr<ContentTemplate> Compile(const std::string& text, Escape escape,
                                         TemplateDialect dialect = TemplateDialect::kMustache) {
  absl::StatusOr<std::unique_ptr<ContentTemplate>> t =
      ContentTemplate::Compile(text, dialect, escape, "content.x");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

TEST(ContentTemplateTest, RecipientValuesWinOverTheRequestsAndNestedNamesWork) {
  Substitutions base(nlohmann::json::parse(R"({"brand": "Acme", "name": "base", "n": 3})"));
  Substitutions top(nlohmann::json::parse(R"({"name": "Zoë", "user": {"plan": "pro"}})"));
  auto t =
      Compile("{{ brand }}: {{ name }} ({{ user.plan }}, {{ n }}){{ missing }}", Escape::kNone);
  ASSERT_NE(t, nullptr);
  absl::StatusOr<std::string> out = t->Render(base, top);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "Acme: Zoë (pro, 3)");
}

TEST(ContentTemplateTest, SectionsFollowListsAndBooleans) {
  Substitutions base(nlohmann::json::object());
  Substitutions top(nlohmann::json::parse(
      R"({"items": [{"t": "a"}, {"t": "b"}], "vip": true, "off": false, "none": null})"));
  auto t =
      Compile("{{#items}}[{{t}}]{{/items}}{{#vip}}V{{/vip}}{{#off}}X{{/off}}{{^none}}N{{/none}}",
              Escape::kNone);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t->Render(base, top), "[a][b]VN");
}

TEST(ContentTemplateTest, HtmlPartsEscapeDoubleBracesOnly) {
  Substitutions base(nlohmann::json::object());
  Substitutions top(nlohmann::json::parse(R"({"name": "<b>Tom & \"Jerry\"</b>"})"));
  auto html = Compile("<p>{{ name }}|{{{ name }}}</p>", Escape::kHtml);
  auto text = Compile("{{ name }}", Escape::kNone);
  ASSERT_NE(html, nullptr);
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(*html->Render(base, top),
            "<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;|<b>Tom & \"Jerry\"</b></p>");
  EXPECT_EQ(*text->Render(base, top), "<b>Tom & \"Jerry\"</b>");
}

TEST(ContentTemplateTest, HeaderValuesRefuseLineBreaksFromValues) {
  Substitutions base(nlohmann::json::object());
  Substitutions evil(nlohmann::json::parse(R"({"name": "x\r\nBcc: victim@example.com"})"));
  Substitutions fine(nlohmann::json::parse(R"({"name": "Ann"})"));
  for (const char* text : {"Hi {{ name }}", "Hi {{{ name }}}"}) {
    auto t = Compile(text, Escape::kNoLineBreaks);
    ASSERT_NE(t, nullptr);
    absl::StatusOr<std::string> out = t->Render(base, evil);
    ASSERT_FALSE(out.ok()) << text;
    EXPECT_EQ(FieldOf(out.status()), "content.x");
    EXPECT_EQ(*t->Render(base, fine), "Hi Ann") << "a failure does not stick";
  }
}

TEST(ContentTemplateTest, RawHeaderSectionRefusesValuesThatAddALine) {
  Substitutions base(nlohmann::json::object());
  Substitutions evil(nlohmann::json::parse(R"({"name": "x\nBcc: victim@example.com"})"));
  Substitutions fine(nlohmann::json::parse(R"({"name": "Ann"})"));
  for (const char* text : {"To: {{ name }} <a@b.c>\nSubject: s\n", "To: {{name}}\n"}) {
    auto t = Compile(text, Escape::kHeaderSection);
    ASSERT_NE(t, nullptr);
    EXPECT_FALSE(t->Render(base, evil).ok()) << text;
    EXPECT_TRUE(t->Render(base, fine).ok()) << text;
  }
}

TEST(ContentTemplateTest, RawHeaderSectionTakesOnlyPlainPlaceholders) {
  for (const char* text :
       {"Subject: {{{ v }}}\n", "Subject: {{& v }}\n", "{{#list}}X-A: {{ v }}\n{{/list}}",
        "{{^none}}X-A: a\n{{/none}}", "Subject: {{> part }}\n", "{{=<% %>=}}Subject: <% v %>\n"}) {
    absl::StatusOr<std::unique_ptr<ContentTemplate>> t = ContentTemplate::Compile(
        text, TemplateDialect::kMustache, Escape::kHeaderSection, "content");
    EXPECT_FALSE(t.ok()) << text;
    if (!t.ok()) {
      EXPECT_EQ(FieldOf(t.status()), "content");
    }
  }
  // Comments and plain names are fine; a bare CR from a value is refused like an LF.
  auto t = Compile("{{! note }}Subject: {{ v }} {{a.b}}\n", Escape::kHeaderSection);
  ASSERT_NE(t, nullptr);
  Substitutions base(nlohmann::json::object());
  EXPECT_TRUE(t->Render(base, Substitutions(nlohmann::json::parse(R"({"v": "ok"})"))).ok());
  EXPECT_FALSE(
      t->Render(base, Substitutions(nlohmann::json::parse(R"({"v": "x\rBcc: e@x.y"})"))).ok());
}

TEST(ContentTemplateTest, StaticDialectAndTaglessTextAreKeptAsTheyAre) {
  Substitutions base(nlohmann::json::object());
  Substitutions top(nlohmann::json::parse(R"({"name": "Ann"})"));
  auto fixed = Compile("Hello {{ name }}", Escape::kNone, TemplateDialect::kStatic);
  ASSERT_NE(fixed, nullptr);
  EXPECT_EQ(*fixed->Render(base, top), "Hello {{ name }}");
  auto plain = Compile("no tags { } here", Escape::kHtml);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(*plain->Render(base, top), "no tags { } here");
}

TEST(ContentTemplateTest, ATemplateThatDoesNotParseNamesItsField) {
  absl::StatusOr<std::unique_ptr<ContentTemplate>> t = ContentTemplate::Compile(
      "{{#open}} never closed", TemplateDialect::kMustache, Escape::kNone, "content.text_body");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(FieldOf(t.status()), "content.text_body");
}

}  // namespace
}  // namespace volley::inject
