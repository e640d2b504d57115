#include "engine/message/mime_encoding.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "engine/base/bytes.h"
#include "engine/message/qp_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::message {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Decodes one RFC 2047 encoded word, checking its form; fails the test otherwise.
std::string DecodeWord(absl::string_view word) {
  EXPECT_LE(word.size(), 75u) << word;
  const bool b = absl::StartsWith(word, "=?UTF-8?B?");
  const bool q = absl::StartsWith(word, "=?UTF-8?Q?");
  if ((!b && !q) || !absl::EndsWith(word, "?=")) {
    ADD_FAILURE() << "not an encoded word: " << word;
    return "";
  }
  const absl::string_view text = word.substr(10, word.size() - 12);
  std::string out;
  if (b) {
    EXPECT_TRUE(absl::Base64Unescape(text, &out)) << word;
  } else {
    for (size_t i = 0; i < text.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (c == '_') {
        out.push_back(' ');
      } else if (c == '=' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
                 HexValue(text[i + 2]) >= 0) {
        out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
        i += 2;
      } else {
        // RFC 2047 5(3): the only literal characters in a phrase.
        EXPECT_TRUE(absl::ascii_isalnum(c) || absl::StrContains("!*+-/", static_cast<char>(c)))
            << "literal " << int{c} << " in " << word;
        out.push_back(static_cast<char>(c));
      }
    }
  }
  // Each word holds whole characters.
  EXPECT_TRUE(IsValidUtf8(out)) << "a UTF-8 character split at " << word;
  return out;
}

// Decodes a header value made only of encoded words: unfolds, drops the white space between
// words (RFC 2047 6.2), concatenates.
std::string DecodeWords(absl::string_view value) {
  const std::string unfolded = absl::StrReplaceAll(value, {{"\r\n", ""}});
  std::string out;
  for (absl::string_view word : absl::StrSplit(unfolded, ' ', absl::SkipEmpty())) {
    out += DecodeWord(word);
  }
  return out;
}

// Lines of "Name: " + value, the first one counted with the name.
std::vector<std::string> FieldLines(absl::string_view name_and_value) {
  return absl::StrSplit(name_and_value, "\r\n");
}

TEST(ChooseTextEncoding, SevenBitWhileAsciiAndShortLines) {
  EXPECT_EQ(ChooseTextEncoding(""), TransferEncoding::k7Bit);
  EXPECT_EQ(ChooseTextEncoding("Hello\nworld = 1\r\n\ttab\r"), TransferEncoding::k7Bit);
  EXPECT_EQ(ChooseTextEncoding(std::string(998, 'a')), TransferEncoding::k7Bit);
  EXPECT_EQ(ChooseTextEncoding(std::string(998, 'a') + "\r\n" + std::string(998, 'b')),
            TransferEncoding::k7Bit);
  EXPECT_EQ(ChooseTextEncoding(std::string(998, 'a') + "\r" + std::string(998, 'b')),
            TransferEncoding::k7Bit);
  EXPECT_EQ(ChooseTextEncoding(std::string(999, 'a')), TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(ChooseTextEncoding(std::string("a\0b", 3) + std::string(20, 'c')),
            TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(ChooseTextEncoding("caf\xC3\xA9 au lait, s'il vous pla\xC3\xAEt"),
            TransferEncoding::kQuotedPrintable);
}

TEST(ChooseTextEncoding, SeesEveryOctetWhateverItsAlignment) {
  // The scan goes eight octets at a time: put what matters at every offset in a word.
  for (size_t k = 0; k < 17; ++k) {
    const std::string pad(k, 'p');
    const std::string tail(200, 't');
    EXPECT_EQ(ChooseTextEncoding(pad + "\xC3\xA9" + tail), TransferEncoding::kQuotedPrintable) << k;
    EXPECT_EQ(ChooseTextEncoding(pad + std::string(1, '\0') + tail),
              TransferEncoding::kQuotedPrintable)
        << k;
    EXPECT_EQ(ChooseTextEncoding(pad + "\x7F=\t\x01" + tail), TransferEncoding::k7Bit) << k;
    // Line breaks reset the length wherever they fall.
    EXPECT_EQ(
        ChooseTextEncoding(pad + "\n" + std::string(998, 'a') + "\r\n" + std::string(998, 'b')),
        TransferEncoding::k7Bit)
        << k;
    EXPECT_EQ(ChooseTextEncoding(pad + "\n" + std::string(999, 'a') + "\n"),
              TransferEncoding::kQuotedPrintable)
        << k;
  }
  // Escapes counted in the word-at-a-time path's fallback too: '=' and controls count.
  EXPECT_EQ(ChooseTextEncoding(std::string(999, '=')), TransferEncoding::kBase64);
  EXPECT_EQ(ChooseTextEncoding(std::string(999, 'a')), TransferEncoding::kQuotedPrintable);
}

TEST(ChooseTextEncoding, Base64PastOneSixthEscaped) {
  // "é" is two escaped octets: 2 of 12 octets is 1/6, 4 of 14 is more.
  EXPECT_EQ(ChooseTextEncoding("\xC3\xA9" + std::string(10, 'a')),
            TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(ChooseTextEncoding("\xC3\xA9\xC3\xA9" + std::string(10, 'a')),
            TransferEncoding::kBase64);
  EXPECT_EQ(ChooseTextEncoding("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"),  // Привет
            TransferEncoding::kBase64);
  EXPECT_EQ(TransferEncodingName(TransferEncoding::k7Bit), "7bit");
  EXPECT_EQ(TransferEncodingName(TransferEncoding::kQuotedPrintable), "quoted-printable");
  EXPECT_EQ(TransferEncodingName(TransferEncoding::kBase64), "base64");
}

TEST(QuotedPrintable, KnownVectors) {
  EXPECT_EQ(EncodeQuotedPrintableText("caf\xC3\xA9 = ok\n"), "caf=C3=A9 =3D ok\r\n");
  // Every kind of line break becomes a CRLF hard break.
  EXPECT_EQ(EncodeQuotedPrintableText("a\nb\r\nc\rd"), "a\r\nb\r\nc\r\nd");
  // White space before a line end or at the end is encoded; inside a line it stays.
  EXPECT_EQ(EncodeQuotedPrintableText("end \nx\t\r\na b "), "end=20\r\nx=09\r\na b=20");
  EXPECT_EQ(EncodeQuotedPrintableText(""), "");
}

TEST(QuotedPrintable, SoftBreaksKeepLinesAt76AndNeverSplitAnEscape) {
  std::string text;
  for (int i = 0; i < 100; ++i)
    absl::StrAppend(&text, "\xC3\xA9x");  // "éx", escapes at odd offsets
  const std::string encoded = EncodeQuotedPrintableText(text);
  EXPECT_EQ(DecodeQp(encoded), text);
  for (absl::string_view line : absl::StrSplit(encoded, "\r\n")) {
    EXPECT_LE(line.size(), 76u);
    // A line ends with the soft-break '=' or a complete escape, never "=X" or a lone "=" of one.
    if (line.size() >= 2) {
      EXPECT_NE(line[line.size() - 2], '=') << line;
    }
  }
  const std::string single_line(10000, 'x');
  const std::string long_encoded = EncodeQuotedPrintableText(single_line);
  EXPECT_EQ(DecodeQp(long_encoded), single_line);
  EXPECT_GT(long_encoded.size(), single_line.size());  // soft breaks were added
}

TEST(QuotedPrintable, RoundTripsTextAsCrlf) {
  std::string text =
      "Line one\nline two  \n\n= sign, tab\t\nUTF-8: \xE2\x82\xAC \xF0\x9F\x98\x80\r\n";
  for (int i = 0; i < 50; ++i) absl::StrAppend(&text, "word", i, i % 7 == 0 ? "\n" : " ");
  const std::string encoded = EncodeQuotedPrintableText(text);
  EXPECT_EQ(DecodeQp(encoded), ToCrlf(text));
}

TEST(Base64Lines, KnownVectorsAndLineLength) {
  EXPECT_EQ(EncodeBase64Lines(""), "");
  EXPECT_EQ(EncodeBase64Lines("f"), "Zg==\r\n");
  EXPECT_EQ(EncodeBase64Lines("fo"), "Zm8=\r\n");
  EXPECT_EQ(EncodeBase64Lines("foobar"), "Zm9vYmFy\r\n");
  EXPECT_EQ(EncodeBase64Lines(std::string(57, 'a')).size(), 78u);  // one full line
  const std::string two = EncodeBase64Lines(std::string(58, 'a'));
  EXPECT_EQ(two, absl::StrCat(absl::Base64Escape(std::string(57, 'a')), "\r\nYQ==\r\n"));
}

TEST(Base64Lines, AllOctetValuesRoundTrip) {
  std::string data;
  for (int round = 0; round < 10; ++round) {
    for (int c = 0; c < 256; ++c) data.push_back(static_cast<char>(c));
  }
  data.push_back('\x01');  // 2561 octets: a partial last group
  const std::string encoded = EncodeBase64Lines(data);
  const std::vector<absl::string_view> lines = absl::StrSplit(encoded, "\r\n");
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.back(), "");  // ends with CRLF
  for (size_t i = 0; i + 2 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 76u) << i;
  EXPECT_LE(lines[lines.size() - 2].size(), 76u);
  const std::string joined = absl::StrReplaceAll(encoded, {{"\r\n", ""}});
  EXPECT_EQ(joined, absl::Base64Escape(data));
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(joined, &decoded));
  EXPECT_EQ(decoded, data);
}

TEST(ToCrlf, NormalisesEveryLineEnd) {
  EXPECT_EQ(ToCrlf(""), "");
  EXPECT_EQ(ToCrlf("a\nb\rc\r\nd\r"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(ToCrlf("\r\r\n\n"), "\r\n\r\n\r\n");
  EXPECT_EQ(ToCrlf("no breaks"), "no breaks");
}

TEST(EncodeUnstructured, PrintableAsciiStaysAndFoldsAtSpaces) {
  EXPECT_EQ(*EncodeUnstructured("Hello world", 9), "Hello world");
  EXPECT_EQ(*EncodeUnstructured("", 9), "");
  std::string long_value;
  for (int i = 0; i < 40; ++i) absl::StrAppend(&long_value, i == 0 ? "" : " ", "word", i);
  absl::StrAppend(&long_value, "   spaced\tand tabbed");
  absl::StatusOr<std::string> v = EncodeUnstructured(long_value, 9);
  ASSERT_TRUE(v.ok());
  const std::vector<std::string> lines = FieldLines("Subject: " + *v);
  EXPECT_GT(lines.size(), 3u);
  for (const std::string& line : lines) {
    EXPECT_LE(line.size(), 78u) << line;
    EXPECT_NE(absl::StripAsciiWhitespace(line), "") << "a line of white space only";
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_TRUE(lines[i][0] == ' ' || lines[i][0] == '\t') << lines[i];
  }
  // Unfolding (RFC 5322 2.2.3: remove the CRLFs) gives the value back exactly.
  EXPECT_EQ(absl::StrReplaceAll(*v, {{"\r\n", ""}}), long_value);
}

TEST(EncodeUnstructured, NonAsciiBecomesEncodedWordsThatDecodeBack) {
  const std::string value = "Caf\xC3\xA9 offer for you today";
  absl::StatusOr<std::string> v = EncodeUnstructured(value, 9);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "=?UTF-8?Q?Caf=C3=A9_offer_for_you_today?=");  // mostly ASCII: Q is shorter
  EXPECT_EQ(DecodeWords(*v), value);
  // Grüße aus Köln: 24 characters in B, 29 in Q.
  const std::string umlauts = "Gr\xC3\xBC\xC3\x9F\x65 aus K\xC3\xB6ln";
  absl::StatusOr<std::string> u = EncodeUnstructured(umlauts, 9);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=");
  EXPECT_EQ(DecodeWords(*u), umlauts);

  // Cyrillic is shorter in B.
  const std::string cyrillic = "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82";
  absl::StatusOr<std::string> c = EncodeUnstructured(cyrillic, 9);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "=?UTF-8?B?0J/RgNC40LLQtdGC?=");
}

TEST(EncodeUnstructured, LongTextIsSplitIntoWordsOfWholeCharacters) {
  // Mixed widths: 1-, 2-, 3- and 4-octet characters, so word ends fall on every kind.
  std::string value;
  for (int i = 0; i < 60; ++i) {
    absl::StrAppend(&value, "a \xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80");
  }
  for (size_t name_length : {9u, 40u, 60u, 70u}) {
    absl::StatusOr<std::string> v = EncodeUnstructured(value, name_length);
    ASSERT_TRUE(v.ok());
    const std::string field = std::string(name_length, 'N') + *v;
    const std::vector<std::string> lines = FieldLines(field);
    EXPECT_GT(lines.size(), 5u);
    // RFC 2047 2: lines holding encoded words are at most 76 characters; after a long name
    // the first word moves to a line of its own rather than overflow.
    for (const std::string& line : lines) EXPECT_LE(line.size(), 76u) << line;
    EXPECT_EQ(DecodeWords(*v), value) << name_length;  // DecodeWord checks each word's UTF-8
  }
  // After a long name the first word is folded onto the next line rather than overflow.
  absl::StatusOr<std::string> after_long_name = EncodeUnstructured(value, 70);
  ASSERT_TRUE(after_long_name.ok());
  EXPECT_THAT(*after_long_name, StartsWith("\r\n =?UTF-8?"));
}

TEST(EncodeUnstructured, EncodesWhatReadersWouldMisread) {
  // Text that looks like an encoded word would be decoded by readers: it is encoded itself.
  absl::StatusOr<std::string> v = EncodeUnstructured("=?utf-8?q?hi?=", 9);
  ASSERT_TRUE(v.ok());
  EXPECT_THAT(*v, StartsWith("=?UTF-8?"));
  EXPECT_EQ(DecodeWords(*v), "=?utf-8?q?hi?=");
  // Control characters are not allowed raw.
  absl::StatusOr<std::string> bell = EncodeUnstructured("ring\x07", 9);
  ASSERT_TRUE(bell.ok());
  EXPECT_EQ(DecodeWords(*bell), "ring\x07");
  // A word too long for a 998-octet line is split across encoded words.
  const std::string word(2000, 'x');
  absl::StatusOr<std::string> w = EncodeUnstructured(word, 9);
  ASSERT_TRUE(w.ok());
  for (const std::string& line : FieldLines(*w)) EXPECT_LE(line.size(), 76u);
  EXPECT_EQ(DecodeWords(*w), word);
}

TEST(EncodeUnstructured, RefusesLineBreaksAndBadUtf8) {
  for (absl::string_view bad : {"a\r\nBcc: victim@example.com", "a\nb", "a\rb"}) {
    absl::StatusOr<std::string> v = EncodeUnstructured(bad, 9);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(v.status().message(), "contains a line break");
  }
  absl::StatusOr<std::string> v = EncodeUnstructured("caf\xE9", 9);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "is not valid UTF-8");
}

TEST(CheckAddress, AcceptsAddrSpecs) {
  for (absl::string_view ok :
       {"a@b.example", "first.last+tag@sub.example.org", "\"quoted@local\"@x.example",
        "\"a\\\"b\"@x.example", "user@[192.0.2.1]", "j\xC3\xB6rg@ex\xC3\xA4mple.de"}) {
    EXPECT_TRUE(CheckAddress(ok).ok()) << ok << ": " << CheckAddress(ok);
  }
}

TEST(CheckAddress, SaysWhatIsWrong) {
  struct Case {
    std::string address;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"", "is empty"},
      {"no-at.example", "has no '@'"},
      {"@x.example", "has an empty local part"},
      {"a@", "has an empty domain"},
      {"a b@x.example", "contains white space"},
      {"a@x.example\r\nBcc: v@x", "contains a line break"},
      {std::string("a\0@x", 4), "contains a NUL octet"},
      {"a\x01@x", "contains a control character"},
      {"<a@x.example>", "contains '<' or '>'"},
      {"a@x.example,b@y.example",
       "has '@' in its local part (allowed only in a quoted local part)"},
      {"a,b@x.example", "has ',' in its local part (allowed only in a quoted local part)"},
      {"a@exa..mple", "has an empty label in its domain"},
      {"a@.example", "has an empty label in its domain"},
      {"a@x;y", "has ';' in its domain"},
      {"a@[1.2.3.4", "has a malformed domain literal"},
      {"\"a\"b\"@x", "has a malformed quoted local part"},
      {"\xFF@x.example", "is not valid UTF-8"},
      {std::string(250, 'a') + "@x.example", "is longer than 254 octets"},
  };
  for (const Case& c : cases) {
    const absl::Status s = CheckAddress(c.address);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.address;
    EXPECT_EQ(s.message(), c.why) << c.address;
  }
}

TEST(FormatMailbox, ChoosesTheDisplayNameForm) {
  EXPECT_EQ(*FormatMailbox("", "a@x.example"), "a@x.example");
  EXPECT_EQ(*FormatMailbox("John Doe", "j@x.example"), "John Doe <j@x.example>");
  EXPECT_EQ(*FormatMailbox("John Q. Public", "j@x.example"), "\"John Q. Public\" <j@x.example>");
  EXPECT_EQ(*FormatMailbox("Say \"hi\" \\ bye", "j@x.example"),
            "\"Say \\\"hi\\\" \\\\ bye\" <j@x.example>");
  // Spaces an atom phrase would lose, and text shaped like an encoded word, are quoted.
  EXPECT_EQ(*FormatMailbox(" Lead", "j@x.example"), "\" Lead\" <j@x.example>");
  EXPECT_EQ(*FormatMailbox("Two  spaces", "j@x.example"), "\"Two  spaces\" <j@x.example>");
  EXPECT_EQ(*FormatMailbox("=?x?=", "j@x.example"), "\"=?x?=\" <j@x.example>");
  // SMTPUTF8: a UTF-8 address is kept as it is.
  EXPECT_EQ(*FormatMailbox("", "j\xC3\xB6rg@ex\xC3\xA4mple.de"), "j\xC3\xB6rg@ex\xC3\xA4mple.de");
}

TEST(FormatMailbox, NonAsciiNamesAreEncodedWordsOnOneLine) {
  const std::string name = "J\xC3\xB6rg M\xC3\xBCller";
  absl::StatusOr<std::string> m = FormatMailbox(name, "j@x.example");
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(absl::EndsWith(*m, " <j@x.example>"));
  EXPECT_EQ(DecodeWords(absl::string_view(*m).substr(0, m->size() - 14)), name);

  std::string long_name;
  for (int i = 0; i < 40; ++i) absl::StrAppend(&long_name, "\xE6\x97\xA5\xE6\x9C\xAC ");
  absl::StatusOr<std::string> l = FormatMailbox(long_name, "j@x.example");
  ASSERT_TRUE(l.ok());
  // Not folded: the result is substituted into header templates, which refuse line breaks.
  EXPECT_FALSE(absl::StrContains(*l, "\r")) << *l;
  EXPECT_FALSE(absl::StrContains(*l, "\n")) << *l;
  EXPECT_EQ(DecodeWords(absl::string_view(*l).substr(0, l->size() - 14)), long_name);
}

TEST(FormatMailbox, NamesTheBadPart) {
  EXPECT_EQ(FormatMailbox("Eve\r\nBcc: x@y", "e@x.example").status().message(),
            "display name contains a line break");
  EXPECT_EQ(FormatMailbox("\xC3", "e@x.example").status().message(),
            "display name is not valid UTF-8");
  EXPECT_EQ(FormatMailbox("Eve", "eve").status().message(), "address has no '@'");
  EXPECT_EQ(FormatMailbox("Eve", "e@x\n").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AppendMailbox, FoldsLongListsBetweenAndInsideMailboxes) {
  std::string out = "To: ";
  HeaderFolder folder(&out, 4);
  for (int i = 0; i < 6; ++i) {
    if (i > 0) folder.Put("", ",");
    AppendMailbox(absl::StrCat("Recipient Number ", i), absl::StrCat("r", i, "@x.example"), i > 0,
                  &folder);
  }
  const std::vector<std::string> lines = FieldLines(out);
  EXPECT_GT(lines.size(), 2u);
  for (const std::string& line : lines) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(absl::StrReplaceAll(out, {{"\r\n", ""}}),
            "To: Recipient Number 0 <r0@x.example>, Recipient Number 1 <r1@x.example>, "
            "Recipient Number 2 <r2@x.example>, Recipient Number 3 <r3@x.example>, "
            "Recipient Number 4 <r4@x.example>, Recipient Number 5 <r5@x.example>");
}

TEST(AppendMimeParameter, QuotedWhenPlainElseRfc2231) {
  std::string out;
  AppendMimeParameter("filename", "report.pdf", &out);
  EXPECT_EQ(out, ";\r\n filename=\"report.pdf\"");
  out.clear();
  AppendMimeParameter("filename", "a\"b\\c.txt", &out);
  EXPECT_EQ(out, ";\r\n filename=\"a\\\"b\\\\c.txt\"");
  out.clear();
  AppendMimeParameter("filename", "r\xC3\xA9sum\xC3\xA9 1.pdf", &out);
  EXPECT_EQ(out, ";\r\n filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf");
  out.clear();
  AppendMimeParameter("name", "r\xC3\xA9sum\xC3\xA9.pdf", &out, ParameterEncoding::kEncodedWords);
  ASSERT_THAT(out, StartsWith(";\r\n name=\""));
  ASSERT_TRUE(absl::EndsWith(out, "\""));
  EXPECT_EQ(DecodeWords(absl::string_view(out).substr(10, out.size() - 11)),
            "r\xC3\xA9sum\xC3\xA9.pdf");
}

// Decodes RFC 2231 sections as Python does, each section on its own, and checks the lines.
std::string DecodeSections(absl::string_view params, absl::string_view attribute) {
  std::string out;
  int expected = 0;
  for (absl::string_view line : absl::StrSplit(params, ";\r\n ", absl::SkipEmpty())) {
    EXPECT_LE(line.size() + 2, 78u) << line;  // with the leading space and the next ';'
    const std::string head = absl::StrCat(attribute, "*", expected, "*=");
    EXPECT_TRUE(absl::StartsWith(line, head)) << line;
    absl::string_view value = line.substr(head.size());
    if (expected == 0) {
      EXPECT_TRUE(absl::StartsWith(value, "UTF-8''")) << line;
      value.remove_prefix(7);
    }
    std::string section;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '%') {
        section.push_back(static_cast<char>(HexValue(value[i + 1]) * 16 + HexValue(value[i + 2])));
        i += 2;
      } else {
        section.push_back(value[i]);
      }
    }
    EXPECT_TRUE(IsValidUtf8(section)) << "a character split across sections: " << line;
    out += section;
    ++expected;
  }
  EXPECT_GT(expected, 1);
  return out;
}

TEST(AppendMimeParameter, LongValuesAreContinuedInWholeCharacters) {
  std::string name;
  for (int i = 0; i < 30; ++i) absl::StrAppend(&name, "\xE6\x97\xA5x\xF0\x9F\x98\x80");
  absl::StrAppend(&name, ".pdf");
  std::string out;
  AppendMimeParameter("filename", name, &out);
  EXPECT_EQ(DecodeSections(out, "filename"), name);
  // Plain ASCII too long for one line uses sections as well.
  const std::string ascii = std::string(100, 'a') + ".txt";
  out.clear();
  AppendMimeParameter("filename", ascii, &out);
  EXPECT_EQ(DecodeSections(out, "filename"), ascii);
}

}  // namespace
}  // namespace volley::message
