#include "engine/message/mime_builder.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "engine/base/json_request.h"
#include "engine/message/header.h"
#include "engine/message/mime_encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::message {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Quoted-printable as a reader decodes it (mime_encoding_test checks the encoder strictly).
std::string DecodeQp(absl::string_view encoded) {
  const std::string joined = absl::StrReplaceAll(encoded, {{"=\r\n", ""}});  // soft breaks
  std::string out;
  for (size_t i = 0; i < joined.size(); ++i) {
    const bool escape = joined[i] == '=' && i + 2 < joined.size() && HexValue(joined[i + 1]) >= 0 &&
                        HexValue(joined[i + 2]) >= 0;
    EXPECT_TRUE(joined[i] != '=' || escape) << "bad escape at " << i;
    out.push_back(escape ? static_cast<char>(HexValue(joined[i + 1]) * 16 + HexValue(joined[i + 2]))
                         : joined[i]);
    if (escape) i += 2;
  }
  return out;
}

// One MIME entity as a reader sees it.
struct Entity {
  std::string type;  // "text/plain", lower case
  std::string content_type;
  std::string encoding;
  std::string disposition;
  std::string content_id;
  std::string boundary;
  std::string decoded;  // leaves: the body after its transfer encoding
  std::vector<Entity> parts;
};

std::string Field(const HeaderSection& section, absl::string_view name) {
  const HeaderField* field = FindField(section, name);
  return field == nullptr ? "" : std::string(absl::StripAsciiWhitespace(UnfoldedValue(*field)));
}

std::string Param(absl::string_view value, absl::string_view name) {
  const std::string key = absl::StrCat(name, "=\"");
  const size_t start = value.find(key);
  if (start == absl::string_view::npos) return "";
  const size_t end = value.find('"', start + key.size());
  return std::string(value.substr(start + key.size(), end - start - key.size()));
}

Entity Parse(absl::string_view text) {
  const HeaderSection section = SplitHeader(text);
  Entity e;
  e.content_type = Field(section, "Content-Type");
  e.type = absl::AsciiStrToLower(e.content_type.substr(0, e.content_type.find(';')));
  e.encoding = Field(section, "Content-Transfer-Encoding");
  e.disposition = Field(section, "Content-Disposition");
  e.content_id = Field(section, "Content-ID");
  if (absl::StartsWith(e.type, "multipart/")) {
    e.boundary = Param(e.content_type, "boundary");
    const std::string delimiter = "--" + e.boundary;
    // RFC 2046 5.1.1: the CRLF before a delimiter line belongs to it.
    std::vector<std::string> lines = absl::StrSplit(section.body, "\r\n");
    EXPECT_EQ(lines.front(), delimiter) << "no preamble expected";
    std::vector<std::string> current;
    bool closed = false;
    for (size_t i = 1; i < lines.size() && !closed; ++i) {
      if (lines[i] == delimiter || lines[i] == delimiter + "--") {
        e.parts.push_back(Parse(absl::StrJoin(current, "\r\n")));
        current.clear();
        closed = lines[i] != delimiter;
      } else {
        current.push_back(lines[i]);
      }
    }
    EXPECT_TRUE(closed) << "no close delimiter for " << e.boundary;
    return e;
  }
  if (e.encoding == "base64") {
    EXPECT_TRUE(
        absl::Base64Unescape(absl::StrReplaceAll(section.body, {{"\r\n", ""}}), &e.decoded));
  } else if (e.encoding == "quoted-printable") {
    e.decoded = DecodeQp(section.body);
  } else {
    e.decoded = std::string(section.body);
  }
  return e;
}

// CRLF only, no NUL, every line within 998 octets, header lines within 78 where folding can.
void ExpectWellFormed(absl::string_view message) {
  size_t line_start = 0;
  bool in_header = true;
  for (size_t i = 0; i < message.size(); ++i) {
    ASSERT_NE(message[i], '\0') << "NUL at " << i;
    if (message[i] == '\r') {
      ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
    }
    if (message[i] != '\n') continue;
    ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
    const size_t length = i - 1 - line_start;
    EXPECT_LE(length, 998u) << message.substr(line_start, 80);
    if (in_header && length > 78) {
      // Only a word too long to fold may pass 78 columns ("where possible", RFC 5322 2.1.1).
      absl::string_view line = absl::StripAsciiWhitespace(message.substr(line_start, length));
      if (message[line_start] != ' ' && message[line_start] != '\t') {
        line.remove_prefix(line.find(": ") + 2);
      }
      EXPECT_EQ(line.find_first_of(" \t"), absl::string_view::npos) << line;
    }
    if (length == 0) in_header = false;
    line_start = i + 1;
  }
  EXPECT_EQ(line_start, message.size()) << "the message must end with CRLF";
}

MimeMessage Basic() {
  MimeMessage m;
  m.from = {"Sender", "sender@example.com"};
  m.to = {{"", "rcpt@example.org"}};
  m.subject = "Hello";
  m.date = absl::FromUnixSeconds(1700000000);
  m.message_id = "<id1@volley.test>";
  return m;
}

std::string Build(const MimeMessage& m) {
  absl::StatusOr<std::string> built = BuildMime(m);
  EXPECT_TRUE(built.ok()) << built.status();
  if (!built.ok()) return "";
  ExpectWellFormed(*built);
  return *built;
}

std::string AllOctets() {
  std::string data;
  for (int round = 0; round < 4; ++round) {
    for (int c = 0; c < 256; ++c) data.push_back(static_cast<char>(c));
  }
  return data;
}

TEST(BuildMime, TextOnlyIsOneTextPlainPart) {
  MimeMessage m = Basic();
  m.text_body = "Hi there\n";
  EXPECT_EQ(Build(m),
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            "From: Sender <sender@example.com>\r\n"
            "To: rcpt@example.org\r\n"
            "Subject: Hello\r\n"
            "Message-ID: <id1@volley.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "\r\n"
            "Hi there\r\n");
  // A single body gets the final line break a message needs; an empty one stays empty.
  m.text_body = "no newline";
  EXPECT_TRUE(absl::EndsWith(Build(m), "\r\n\r\nno newline\r\n"));
  m.text_body = "";
  EXPECT_TRUE(absl::EndsWith(Build(m), "7bit\r\n\r\n"));
}

TEST(BuildMime, HtmlOnlyIsOneTextHtmlPart) {
  MimeMessage m = Basic();
  m.html_body = "<p>Viele Gr\xC3\xBC\xC3\x9F\x65 aus der Stadt</p>\n";
  const Entity e = Parse(Build(m));
  EXPECT_EQ(e.type, "text/html");
  EXPECT_EQ(e.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(e.encoding, "quoted-printable");  // 4 escaped octets of 35
  EXPECT_EQ(e.decoded, ToCrlf(*m.html_body));
  // Mostly non-ASCII: base64, of the canonical CRLF form (RFC 2045 6.8).
  m.html_body = "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82\n\xD0\xBC\xD0\xB8\xD1\x80\n";
  const Entity b = Parse(Build(m));
  EXPECT_EQ(b.encoding, "base64");
  EXPECT_EQ(b.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(b.decoded, ToCrlf(*m.html_body));
}

TEST(BuildMime, TextAndHtmlAreAlternativesTextFirst) {
  MimeMessage m = Basic();
  m.text_body = "plain\nsecond line";
  m.html_body = "<b>html</b>";
  const Entity e = Parse(Build(m));
  EXPECT_EQ(e.type, "multipart/alternative");
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[0].type, "text/plain");
  EXPECT_EQ(e.parts[0].decoded, "plain\r\nsecond line");  // exact: the delimiter has its CRLF
  EXPECT_EQ(e.parts[1].type, "text/html");
  EXPECT_EQ(e.parts[1].decoded, "<b>html</b>");
  // A part keeps its final line break, 7bit or quoted-printable.
  m.text_body = "plain\n";
  m.html_body = "<b>caf\xC3\xA9 html</b>\n";
  const Entity ends = Parse(Build(m));
  ASSERT_EQ(ends.parts.size(), 2u);
  EXPECT_EQ(ends.parts[0].decoded, "plain\r\n");
  EXPECT_EQ(ends.parts[1].encoding, "quoted-printable");
  EXPECT_EQ(ends.parts[1].decoded, "<b>caf\xC3\xA9 html</b>\r\n");
}

TEST(BuildMime, InlineAttachmentsMakeARelatedAroundTheHtml) {
  MimeMessage m = Basic();
  m.html_body = "<img src=\"cid:logo@x\">";
  m.attachments.push_back({"\x89PNG\r\n", "image/png", "logo.png", "logo@x"});
  const Entity e = Parse(Build(m));
  EXPECT_EQ(e.type, "multipart/related");
  EXPECT_THAT(e.content_type, HasSubstr("type=\"text/html\""));
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[0].type, "text/html");
  EXPECT_EQ(e.parts[1].type, "image/png");
  EXPECT_EQ(e.parts[1].content_id, "<logo@x>");
  EXPECT_EQ(e.parts[1].disposition, "inline; filename=\"logo.png\"");
  EXPECT_EQ(e.parts[1].encoding, "base64");
  EXPECT_EQ(e.parts[1].decoded, "\x89PNG\r\n");
  // A Content-ID given with its angle brackets is not bracketed twice.
  m.attachments[0].content_id = "<logo@x>";
  EXPECT_EQ(Parse(Build(m)).parts[1].content_id, "<logo@x>");
}

TEST(BuildMime, OtherAttachmentsMakeAMixed) {
  MimeMessage m = Basic();
  m.text_body = "see attached";
  m.attachments.push_back({"%PDF-1.4", "application/pdf", "report.pdf", ""});
  m.attachments.push_back({AllOctets(), "", "", ""});
  const Entity e = Parse(Build(m));
  EXPECT_EQ(e.type, "multipart/mixed");
  ASSERT_EQ(e.parts.size(), 3u);
  EXPECT_EQ(e.parts[0].type, "text/plain");
  EXPECT_EQ(e.parts[1].content_type, "application/pdf; name=\"report.pdf\"");
  EXPECT_EQ(e.parts[1].disposition, "attachment; filename=\"report.pdf\"");
  EXPECT_EQ(e.parts[1].decoded, "%PDF-1.4");
  EXPECT_EQ(e.parts[2].content_type, "application/octet-stream");
  EXPECT_EQ(e.parts[2].disposition, "attachment");
  EXPECT_EQ(e.parts[2].decoded, AllOctets());  // byte for byte
}

TEST(BuildMime, EverythingNestsMixedRelatedAlternative) {
  MimeMessage m = Basic();
  m.text_body = "text";
  m.html_body = "<img src=\"cid:a\">";
  m.attachments.push_back({"doc", "application/msword", "a.doc", ""});
  m.attachments.push_back({"gif", "image/gif", "", "a"});
  const std::string built = Build(m);
  const Entity e = Parse(built);
  ASSERT_EQ(e.type, "multipart/mixed");
  ASSERT_EQ(e.parts.size(), 2u);
  const Entity& related = e.parts[0];
  ASSERT_EQ(related.type, "multipart/related");
  EXPECT_THAT(related.content_type, HasSubstr("type=\"multipart/alternative\""));
  ASSERT_EQ(related.parts.size(), 2u);
  ASSERT_EQ(related.parts[0].type, "multipart/alternative");
  ASSERT_EQ(related.parts[0].parts.size(), 2u);
  EXPECT_EQ(related.parts[0].parts[0].decoded, "text");
  EXPECT_EQ(related.parts[0].parts[1].decoded, "<img src=\"cid:a\">");
  EXPECT_EQ(related.parts[1].content_id, "<a>");
  EXPECT_EQ(related.parts[1].disposition, "inline");
  EXPECT_EQ(e.parts[1].decoded, "doc");
  // Three boundaries, all different, none a prefix of another.
  const std::vector<std::string> boundaries = {e.boundary, related.boundary,
                                               related.parts[0].boundary};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(boundaries[i].empty());
    EXPECT_LE(boundaries[i].size(), 70u);  // RFC 2046 5.1.1
    for (size_t j = 0; j < 3; ++j) {
      if (i != j) {
        EXPECT_FALSE(absl::StartsWith(boundaries[i], boundaries[j]));
      }
    }
  }
}

TEST(BuildMime, AttachmentsWithoutABodyGoInAMixed) {
  MimeMessage m = Basic();
  m.attachments.push_back({"a", "text/csv", "a.csv", ""});
  m.attachments.push_back({"b", "image/png", "", "img"});
  const Entity e = Parse(Build(m));
  ASSERT_EQ(e.type, "multipart/mixed");
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[0].type, "text/csv");
  EXPECT_EQ(e.parts[1].content_id, "<img>");
}

TEST(BuildMime, BoundariesDependOnTheMessageIdAndAvoidTheContent) {
  MimeMessage m = Basic();
  m.text_body = "text";
  m.html_body = "html";
  const std::string boundary = Parse(Build(m)).boundary;
  EXPECT_EQ(Parse(Build(m)).boundary, boundary);  // pure: same input, same message
  MimeMessage other = m;
  other.message_id = "<id2@volley.test>";
  EXPECT_NE(Parse(Build(other)).boundary, boundary);

  // A 7bit text holding the boundary, as a delimiter line and inside a line: another is chosen.
  m.text_body = absl::StrCat("--", boundary, "\n", "x--", boundary, "--\nend");
  const std::string built = Build(m);
  const Entity e = Parse(built);
  EXPECT_NE(e.boundary, boundary);
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[0].encoding, "7bit");
  EXPECT_EQ(e.parts[0].decoded, ToCrlf(*m.text_body));
  EXPECT_EQ(e.parts[1].decoded, "html");
}

TEST(BuildMime, LongSingleLineBodiesStayWithin998Octets) {
  MimeMessage m = Basic();
  m.text_body = std::string(10000, 'x');
  m.html_body = "<p>" + std::string(10000, 'y') + "</p>";
  const std::string built = Build(m);  // ExpectWellFormed checks every line
  const Entity e = Parse(built);
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[0].encoding, "quoted-printable");
  EXPECT_EQ(e.parts[0].content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(e.parts[0].decoded, *m.text_body);
  EXPECT_EQ(e.parts[1].decoded, *m.html_body);
}

TEST(BuildMime, HeadersAreEncodedAndFolded) {
  MimeMessage m = Basic();
  m.from = {"J\xC3\xB6rg M\xC3\xBCller", "j@example.com"};
  m.reply_to = Mailbox{"Support, Team", "help@example.com"};
  m.to.clear();
  for (int i = 0; i < 5; ++i) {
    m.to.push_back({absl::StrCat("Person ", i), absl::StrCat("p", i, "@x.example")});
  }
  m.subject = std::string(30, 'a') + " \xE2\x82\xAC " + std::string(100, 'b');
  m.text_body = "x";
  const std::string built = Build(m);  // header lines within 78
  const HeaderSection section = SplitHeader(built);
  EXPECT_EQ(Field(section, "Reply-To"), "\"Support, Team\" <help@example.com>");
  EXPECT_EQ(Field(section, "To"),
            "Person 0 <p0@x.example>, Person 1 <p1@x.example>, Person 2 <p2@x.example>, Person 3 "
            "<p3@x.example>, Person 4 <p4@x.example>");
  EXPECT_TRUE(absl::StartsWith(Field(section, "From"), "=?UTF-8?")) << Field(section, "From");
  EXPECT_TRUE(absl::StartsWith(Field(section, "Subject"), "=?UTF-8?"));
}

TEST(BuildMime, NonAsciiFileNamesUseRfc2231AndEncodedWords) {
  MimeMessage m = Basic();
  m.text_body = "x";
  m.attachments.push_back({"data", "application/pdf", "r\xC3\xA9sum\xC3\xA9.pdf", ""});
  const std::string built = Build(m);
  EXPECT_THAT(
      built,
      HasSubstr("Content-Disposition: attachment;\r\n filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n"));
  EXPECT_THAT(built, HasSubstr("Content-Type: application/pdf;\r\n name=\"=?UTF-8?"));
}

TEST(BuildMime, HeadersReplaceTheBuildersAndComeInOrder) {
  MimeMessage m = Basic();
  m.from = {};  // the caller gives From as a header: the builder's is not checked
  m.text_body = "x";
  m.headers = {{"X-First", "1"},
               {"subject", "\xC3\x9C\x62\x65r"},
               {"From", "List <list@example.com>"},
               {"X-Second", "caf\xC3\xA9"},
               {"List-Unsubscribe", "<https://example.com/u?a=1&b=2>"}};
  const std::string built = Build(m);
  const HeaderSection section = SplitHeader(built);
  std::vector<std::string> names;
  for (const HeaderField& f : section.fields) names.emplace_back(f.name);
  EXPECT_THAT(names, ElementsAre("Date", "To", "Message-ID", "X-First", "subject", "From",
                                 "X-Second", "List-Unsubscribe", "MIME-Version", "Content-Type",
                                 "Content-Transfer-Encoding"));
  EXPECT_EQ(Field(section, "Subject"), "=?UTF-8?B?w5xiZXI=?=");
  EXPECT_EQ(Field(section, "From"), "List <list@example.com>");
  EXPECT_EQ(Field(section, "X-Second"), "=?UTF-8?B?Y2Fmw6k=?=");
  EXPECT_EQ(Field(section, "List-Unsubscribe"), "<https://example.com/u?a=1&b=2>");
}

TEST(BuildMime, AnyTextGivesAWellFormedMessageThatDecodesBack) {
  std::vector<std::string> pieces = absl::StrSplit(
      "a|Zz| |\t|=|=?|?=|--=_|.|\"|\\|\x01|\xC3\xA9|\xE6\x97\xA5|\xF0\x9F\x98\x80", '|');
  pieces.push_back(std::string(90, 'w'));
  for (const char* line_break : {"\n", "\r\n", "\r"}) pieces.push_back(line_break);  // last
  uint32_t seed = 1;
  auto text = [&](size_t n, bool breaks) {
    std::string t;
    for (size_t i = 0; i < n; ++i) {
      seed = seed * 1103515245u + 12345u;
      t += pieces[(seed >> 16) % (pieces.size() - (breaks ? 0 : 3))];
    }
    return t;
  };
  for (int round = 0; round < 200; ++round) {
    MimeMessage m = Basic();
    m.from.name = text(round % 30, false);
    m.subject = text(round % 50, false);
    m.headers = {{"X-Any", text(round % 20, false)}};
    m.text_body = text(round * 3, true);
    m.html_body = text(round * 2, true);
    m.attachments.push_back({text(round, true), "", text(round % 40, false), ""});
    const Entity e = Parse(Build(m));  // well-formed: CRLF, line lengths, header folding
    ASSERT_EQ(e.parts.size(), 2u) << round;
    ASSERT_EQ(e.parts[0].parts.size(), 2u) << round;
    EXPECT_EQ(e.parts[0].parts[0].decoded, ToCrlf(*m.text_body)) << round;
    EXPECT_EQ(e.parts[0].parts[1].decoded, ToCrlf(*m.html_body)) << round;
    EXPECT_EQ(e.parts[1].decoded, m.attachments[0].data) << round;
  }
}

// Refused with InvalidArgument `text`, which starts with the field FieldOf gives ("field: ...")
// when there is one.
void ExpectRefused(absl::string_view text, void (*change)(MimeMessage&)) {
  MimeMessage m = Basic();
  m.text_body = "x";
  change(m);
  absl::StatusOr<std::string> built = BuildMime(m);
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_EQ(built.status().message(), text);
  const size_t colon = text.find(": ");
  EXPECT_EQ(FieldOf(built.status()), colon == absl::string_view::npos ? "" : text.substr(0, colon));
}

TEST(BuildMime, RefusesWhatWouldBreakTheMessageNamingTheField) {
  ExpectRefused("content has no text_body, html_body or attachments",
                [](MimeMessage& m) { m.text_body.reset(); });
  ExpectRefused("subject: contains a line break",
                [](MimeMessage& m) { m.subject = "Hi\r\nBcc: victim@example.com"; });
  ExpectRefused("subject: is not valid UTF-8", [](MimeMessage& m) { m.subject = "\xFF"; });
  ExpectRefused("from.email: has no '@'", [](MimeMessage& m) { m.from.email = "sender"; });
  ExpectRefused("from.email: contains a line break",
                [](MimeMessage& m) { m.from.email = "a@b\nBcc: c@d"; });
  ExpectRefused("from.name: contains a line break",
                [](MimeMessage& m) { m.from.name = "Eve\r\nBcc: x@y"; });
  ExpectRefused("to[1].email: contains white space", [](MimeMessage& m) {
    m.to.push_back({"", "x@y z"});
  });
  ExpectRefused("to[0].name: contains a line break", [](MimeMessage& m) { m.to[0].name = "\n"; });
  ExpectRefused("reply_to.email: contains '<' or '>'", [](MimeMessage& m) {
    m.reply_to = Mailbox{"", "<r@x>"};
  });
  ExpectRefused("headers.X-Tag: contains a line break", [](MimeMessage& m) {
    m.headers = {{"X-Tag", "a\r\nBcc: v@x"}};
  });
  ExpectRefused(
      "headers: header name \"X Tag\\x0d\\x0a\" is not an RFC 5322 field name of at most 76 "
      "characters",
      [](MimeMessage& m) {
        m.headers = {{"X Tag\r\n", "a"}};
      });
  ExpectRefused(
      "headers.content-type: MIME-Version and Content-* fields are written by the builder, which "
      "makes the MIME structure",
      [](MimeMessage& m) {
        m.headers = {{"content-type", "text/html"}};
      });
  ExpectRefused(
      "headers.MIME-Version: MIME-Version and Content-* fields are written by the builder, which "
      "makes the MIME structure",
      [](MimeMessage& m) {
        m.headers = {{"MIME-Version", "1.0"}};
      });
  ExpectRefused("headers.SUBJECT: given twice (RFC 5322 3.6 allows one)", [](MimeMessage& m) {
    m.headers = {{"Subject", "a"}, {"SUBJECT", "b"}};
  });
  ExpectRefused(
      "attachments[0].content_type: must be type/subtype of token characters, without "
      "parameters, not \"pdf\"",
      [](MimeMessage& m) {
        m.attachments = {{"d", "pdf", "", ""}};
      });
  ExpectRefused(
      "attachments[1].content_type: must be type/subtype of token characters, without "
      "parameters, not \"text/plain; a=b\"",
      [](MimeMessage& m) {
        m.attachments = {{"d", "text/plain", "", ""}, {"d", "text/plain; a=b", "", ""}};
      });
  ExpectRefused("attachments[0].content_type: contains a line break", [](MimeMessage& m) {
    m.attachments = {{"d", "text/plain\r\nX: y", "", ""}};
  });
  ExpectRefused(
      "attachments[0].content_type: \"multipart/mixed\" cannot be an attachment: it may not be "
      "base64-encoded (RFC 2045 6.4)",
      [](MimeMessage& m) {
        m.attachments = {{"d", "multipart/mixed", "", ""}};
      });
  ExpectRefused("attachments[0].file_name: contains a line break", [](MimeMessage& m) {
    m.attachments = {{"d", "", "a\nb", ""}};
  });
  ExpectRefused("attachments[0].file_name: is not valid UTF-8", [](MimeMessage& m) {
    m.attachments = {{"d", "", "\xC3(", ""}};
  });
  ExpectRefused("attachments[0].content_id: contains a line break", [](MimeMessage& m) {
    m.attachments = {{"d", "", "", "a\r\nb"}};
  });
  ExpectRefused(
      "attachments[0].content_id: \"a b\" has characters other than atext, '.', '@', '[' and ']'",
      [](MimeMessage& m) {
        m.attachments = {{"d", "", "", "a b"}};
      });
  ExpectRefused("attachments[1].content_id: the same as attachments[0].content_id",
                [](MimeMessage& m) {
                  m.attachments = {{"d", "", "", "a@x"}, {"e", "", "", "<a@x>"}};
                });
  ExpectRefused("text_body: is not valid UTF-8", [](MimeMessage& m) { m.text_body = "\xFF"; });
  ExpectRefused("html_body: is not valid UTF-8",
                [](MimeMessage& m) { m.html_body = "\xED\xA0\x80"; });
  ExpectRefused("message_id: contains a control character",
                [](MimeMessage& m) { m.message_id = std::string("<a\0@b>", 6); });
  ExpectRefused("headers.To: contains a control character", [](MimeMessage& m) {
    m.headers = {{"To", "a@b\x01"}};
  });
  ExpectRefused("message_id: contains a line break",
                [](MimeMessage& m) { m.message_id = "<a@b>\r\nX: y"; });
  ExpectRefused("headers.From: has a word too long for a line of 998 octets (RFC 5322 2.1.1)",
                [](MimeMessage& m) {
                  m.headers = {{"From", std::string(1000, 'a') + "@x"}};
                });
}

// The message as Python's email package (policy.default, the strict modern parser) reads it.
constexpr char kPythonReader[] = R"py(
import email, email.policy, sys
msg = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
def hx(s): return s.encode('utf-8', 'surrogateescape').hex()
print('subject', hx(str(msg['subject'])))
print('from', hx(msg['from'].addresses[0].display_name), msg['from'].addresses[0].addr_spec)
for a in msg['to'].addresses: print('to', hx(a.display_name), a.addr_spec)
print('header-defects', sum(len(msg[h].defects) for h in ('subject', 'from', 'to')))
for part in msg.walk():
    print('part', part.get_content_type(), 'defects', len(part.defects))
    if part.is_multipart(): continue
    print('payload', part.get_payload(decode=True).hex())
    if part.get_filename(): print('filename', hx(part.get_filename()))
)py";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Hex(absl::string_view s) { return absl::BytesToHexString(s); }

TEST(BuildMime, PythonsEmailPackageReadsItBack) {
  MimeMessage m = Basic();
  m.from = {"J\xC3\xB6rg M\xC3\xBCller \xE6\x97\xA5\xE6\x9C\xAC", "j@example.com"};
  m.to = {{"Ann \"The\" Smith", "ann@example.org"}, {"", "bob@example.org"}};
  m.subject = "Gr\xC3\xBC\xC3\x9F\x65 \xF0\x9F\x98\x80 " + std::string(80, 'z') + " \xE2\x82\xAC";
  m.text_body = "Hallo\nGr\xC3\xBC\xC3\x9F\x65\n";
  m.html_body = "<p>" + std::string(2000, 'h') + "</p>";
  const std::string file_name = std::string(50, 'f') + " \xE6\x97\xA5\xE6\x9C\xAC.bin";
  m.attachments.push_back({AllOctets(), "application/octet-stream", file_name, ""});
  m.attachments.push_back({"GIF89a", "image/gif", "i.gif", "img1@x"});
  const std::string built = Build(m);

  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  const std::string eml = dir + "/built.eml", script = dir + "/reader.py", out = dir + "/out.txt";
  std::ofstream(eml, std::ios::binary) << built;
  std::ofstream(script) << kPythonReader;
  const std::string command = absl::StrCat("python3 ", script, " ", eml, " > ", out, " 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << ReadFile(out);

  const std::vector<std::string> lines = absl::StrSplit(ReadFile(out), '\n', absl::SkipEmpty());
  EXPECT_THAT(
      lines,
      ElementsAre(
          absl::StrCat("subject ", Hex(m.subject)),
          absl::StrCat("from ", Hex(m.from.name), " j@example.com"),
          absl::StrCat("to ", Hex("Ann \"The\" Smith"), " ann@example.org"), "to  bob@example.org",
          "header-defects 0", "part multipart/mixed defects 0", "part multipart/related defects 0",
          "part multipart/alternative defects 0", "part text/plain defects 0",
          absl::StrCat("payload ", Hex(ToCrlf(*m.text_body))), "part text/html defects 0",
          absl::StrCat("payload ", Hex(*m.html_body)), "part image/gif defects 0",
          absl::StrCat("payload ", Hex("GIF89a")), absl::StrCat("filename ", Hex("i.gif")),
          "part application/octet-stream defects 0", absl::StrCat("payload ", Hex(AllOctets())),
          absl::StrCat("filename ", Hex(file_name))))
      << built;
}

}  // namespace
}  // namespace volley::message
