#include "engine/message/mime_downgrade.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "engine/message/qp_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::message {
namespace {

using ::testing::HasSubstr;

// Joins lines with CRLF, ending with one.
std::string Crlf(const std::vector<std::string>& lines) {
  return absl::StrCat(absl::StrJoin(lines, "\r\n"), "\r\n");
}

// Every octet 7 bit, every line at most 998 octets (RFC 5322 2.1.1).
void ExpectSevenBit(absl::string_view message) {
  for (size_t i = 0; i < message.size(); ++i) {
    ASSERT_LT(static_cast<unsigned char>(message[i]), 128) << "at offset " << i;
  }
  for (absl::string_view line : absl::StrSplit(message, "\r\n")) EXPECT_LE(line.size(), 998u);
}

std::string Downgrade(absl::string_view message) {
  absl::StatusOr<std::string> out = DowngradeTo7Bit(message);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return "";
  ExpectSevenBit(*out);
  return *out;
}

// The text between `begin` and `end` (exclusive) in `s`, both required.
std::string Between(absl::string_view s, absl::string_view begin, absl::string_view end) {
  const size_t b = s.find(begin);
  EXPECT_NE(b, absl::string_view::npos) << "missing " << begin;
  if (b == absl::string_view::npos) return "";
  const size_t start = b + begin.size();
  const size_t e = s.find(end, start);
  EXPECT_NE(e, absl::string_view::npos) << "missing " << end;
  if (e == absl::string_view::npos) return "";
  return std::string(s.substr(start, e - start));
}

const char kGruesse[] =
    "Gr\xC3\xBC\xC3\x9F"
    "e aus K\xC3\xB6ln";  // "Grüße aus Köln"

// --- EncodeQuotedPrintable ---------------------------------------------------------------------

TEST(EncodeQuotedPrintableTest, Table) {
  struct Case {
    std::string in;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"plain text", "plain text"},
      {"a=b", "a=3Db"},
      {"\xC3\xBC", "=C3=BC"},
      {"trailing space \r\nnext", "trailing space=20\r\nnext"},
      {"trailing tab\t\r\n", "trailing tab=09\r\n"},
      {"end of body ", "end of body=20"},
      {"inner  spaces\tand tabs", "inner  spaces\tand tabs"},
      {"bare\nlf and bare\rcr", "bare=0Alf and bare=0Dcr"},
      {"cr at end\r", "cr at end=0D"},
      {"\x7F\x01", "=7F=01"},
      {"\r\n\r\n", "\r\n\r\n"},
      {"=\r\n=", "=3D\r\n=3D"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(EncodeQuotedPrintable(c.in), c.want) << absl::CHexEscape(c.in);
    EXPECT_EQ(DecodeQp(EncodeQuotedPrintable(c.in)), c.in) << absl::CHexEscape(c.in);
  }
}

TEST(EncodeQuotedPrintableTest, SoftLineBreaksAtTheLimit) {
  // 76 characters fit on a line that ends there; 77 need a soft break after 75.
  EXPECT_EQ(EncodeQuotedPrintable(std::string(76, 'a')), std::string(76, 'a'));
  EXPECT_EQ(EncodeQuotedPrintable(std::string(76, 'a') + "\r\nb"), std::string(76, 'a') + "\r\nb");
  EXPECT_EQ(EncodeQuotedPrintable(std::string(77, 'a')), std::string(75, 'a') + "=\r\naa");
  // An escape is never split across a soft break.
  EXPECT_EQ(EncodeQuotedPrintable(std::string(74, 'a') + "\xC3\xBC" + "z"),
            std::string(74, 'a') + "=\r\n=C3=BCz");
  // An escape that ends the line may use all 76 columns.
  EXPECT_EQ(EncodeQuotedPrintable(std::string(73, 'a') + "\xFF"), std::string(73, 'a') + "=FF");
  // Trailing white space at the limit is encoded, and still fits or moves to the next line.
  EXPECT_EQ(EncodeQuotedPrintable(std::string(75, 'a') + " "), std::string(75, 'a') + "=\r\n=20");
  // A soft break never starts a line with '-': it could make a boundary delimiter.
  EXPECT_EQ(EncodeQuotedPrintable(std::string(75, 'a') + "--b"),
            std::string(75, 'a') + "=\r\n=2D-b");
}

TEST(EncodeQuotedPrintableTest, LongLinesRoundTrip) {
  // Lines of every length up to 400 made of a cycle of awkward octets: 8-bit, '=', white space
  // (also right before line breaks), control characters, bare CR and LF.
  const std::string alphabet = std::string("ab c=\t\xC3\xA9\xFF.\x01xyz\r0 ") + '\n';
  std::string body;
  size_t k = 0;
  for (size_t length = 0; length <= 400; length += 7) {
    for (size_t i = 0; i < length; ++i) body.push_back(alphabet[k++ % alphabet.size()]);
    body.append(length % 3 == 0 ? " \r\n" : "\r\n");
  }
  const std::string encoded = EncodeQuotedPrintable(body);
  EXPECT_EQ(DecodeQp(encoded), body);
  for (absl::string_view line : absl::StrSplit(encoded, '\n')) {
    EXPECT_LE(line.size() + 1, 78u) << line;  // with its CRLF
  }
}

// --- DowngradeTo7Bit ---------------------------------------------------------------------------

TEST(DowngradeTest, SevenBitMessagesComeBackByteIdentical) {
  const std::vector<std::string> messages = {
      "",
      Crlf({"From: a@example.test", "Subject: hi", "", "body"}),
      // Odd but 7 bit: bare LF, no final line break, a multipart without close delimiter, long
      // lines, CTE 8bit without 8-bit octets.
      "From: a@example.test\nSubject: x\n\nline\nno final break",
      Crlf({"Content-Type: multipart/mixed; boundary=b", "Content-Transfer-Encoding: 8bit", "",
            "--b", "", std::string(2000, 'x'), "--b"}),
  };
  for (const std::string& m : messages) {
    absl::StatusOr<std::string> out = DowngradeTo7Bit(m);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, m);
  }
}

TEST(DowngradeTest, PlainEightBitTextMessage) {
  const std::string in = Crlf({"From: a@example.test", "To: b@example.test", "Subject: hi", "",
                               kGruesse, "zweite Zeile = 2 ", ""});
  EXPECT_EQ(Downgrade(in),
            Crlf({"From: a@example.test", "To: b@example.test", "Subject: hi",
                  "Content-Transfer-Encoding: quoted-printable", "MIME-Version: 1.0", "",
                  "Gr=C3=BC=C3=9Fe aus K=C3=B6ln", "zweite Zeile =3D 2=20", ""}));
}

TEST(DowngradeTest, ReplacesFoldedEncodingFieldInPlace) {
  const std::string in =
      Crlf({"MIME-Version: 1.0", "content-transfer-encoding:", " 8BIT (sent raw)",
            "Content-Type: text/plain;", "\tcharset=utf-8", "", kGruesse});
  EXPECT_EQ(Downgrade(in), Crlf({"MIME-Version: 1.0", "Content-Transfer-Encoding: quoted-printable",
                                 "Content-Type: text/plain;", "\tcharset=utf-8", "",
                                 "Gr=C3=BC=C3=9Fe aus K=C3=B6ln"}));
}

TEST(DowngradeTest, MultipartAlternativeWithEightBitParts) {
  const std::string plain = absl::StrCat(kGruesse, "\r\nPreis: 5 \xE2\x82\xAC");
  const std::string html = absl::StrCat("<p style=\"x\">", kGruesse, "</p>");
  const std::string in = Crlf({
      "MIME-Version: 1.0",
      "Content-Type: multipart/alternative; boundary=\"=_alt 1\"",
      "",
      "This is a multi-part message in MIME format.",
      "--=_alt 1",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      plain,
      "--=_alt 1",
      "Content-Type: text/html; charset=utf-8",
      "",
      html,
      "--=_alt 1--",
      "epilogue",
  });
  const std::string out = Downgrade(in);
  // Everything outside the part bodies is unchanged, except the added encoding fields.
  EXPECT_TRUE(absl::StartsWith(
      out, Crlf({"MIME-Version: 1.0", "Content-Type: multipart/alternative; boundary=\"=_alt 1\"",
                 "", "This is a multi-part message in MIME format.", "--=_alt 1",
                 "Content-Type: text/plain; charset=utf-8",
                 "Content-Transfer-Encoding: quoted-printable", ""})))
      << out;
  EXPECT_TRUE(absl::EndsWith(out, "\r\n--=_alt 1--\r\nepilogue\r\n")) << out;
  EXPECT_EQ(DecodeQp(Between(out, "quoted-printable\r\n\r\n", "\r\n--=_alt 1\r\n")), plain);
  EXPECT_THAT(out, HasSubstr(Crlf({"--=_alt 1", "Content-Type: text/html; charset=utf-8",
                                   "Content-Transfer-Encoding: quoted-printable", ""})));
  EXPECT_EQ(DecodeQp(Between(out,
                             "text/html; charset=utf-8\r\nContent-Transfer-Encoding: "
                             "quoted-printable\r\n\r\n",
                             "\r\n--=_alt 1--")),
            html);
}

TEST(DowngradeTest, NestedMultipartLeavesBase64AttachmentAndSevenBitPartsUntouched) {
  const std::string attachment = Crlf({
      "--outer",
      "Content-Type: application/pdf; name=\"a.pdf\"",
      "Content-Transfer-Encoding: base64",
      "Content-Disposition: attachment",
      "",
      "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl",
      "Y29kZT4+CnN0cmVhbQp4nD2OywoCMQxF9/mKu3YRk7bptDAIDuh+oOAP+AAXgrOZ37etjmSTe3IS",
  });
  const std::string seven_bit_part = Crlf({
      "--inner",
      "Content-Type: text/plain; charset=us-ascii",
      "",
      "ascii only, stays as it is   ",
  });
  const std::string in = absl::StrCat(
      Crlf({"From: a@example.test", "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=outer", "", "--outer",
            "Content-Type: multipart/alternative;", " boundary=inner", "", "preamble"}),
      seven_bit_part,
      Crlf({"--inner", "Content-Type: text/html; charset=utf-8", "", kGruesse, "--inner--"}),
      attachment, "--outer--\r\n");
  const std::string out = Downgrade(in);
  EXPECT_THAT(out, HasSubstr(attachment));
  EXPECT_THAT(out, HasSubstr(seven_bit_part));
  EXPECT_THAT(out, HasSubstr(Crlf({"--inner", "Content-Type: text/html; charset=utf-8",
                                   "Content-Transfer-Encoding: quoted-printable", "",
                                   "Gr=C3=BC=C3=9Fe aus K=C3=B6ln", "--inner--"})));
  EXPECT_EQ(out.size(), in.size() - std::string(kGruesse).size() +
                            std::string("Gr=C3=BC=C3=9Fe aus K=C3=B6ln").size() +
                            std::string("Content-Transfer-Encoding: quoted-printable\r\n").size());
}

TEST(DowngradeTest, EnclosedMessageWithEightBitBody) {
  const std::string in = Crlf({
      "From: postmaster@example.test",
      "MIME-Version: 1.0",
      "Content-Type: multipart/mixed; boundary=b",
      "",
      "--b",
      "Content-Type: message/rfc822",
      "Content-Transfer-Encoding: 8bit",
      "",
      "From: a@example.test",
      "Subject: forwarded",
      "",
      kGruesse,
      "--b--",
  });
  EXPECT_EQ(Downgrade(in), Crlf({
                               "From: postmaster@example.test",
                               "MIME-Version: 1.0",
                               "Content-Type: multipart/mixed; boundary=b",
                               "",
                               "--b",
                               "Content-Type: message/rfc822",
                               "Content-Transfer-Encoding: 7bit",
                               "",
                               "From: a@example.test",
                               "Subject: forwarded",
                               "Content-Transfer-Encoding: quoted-printable",
                               "",
                               "Gr=C3=BC=C3=9Fe aus K=C3=B6ln",
                               "--b--",
                           }));
}

TEST(DowngradeTest, TopLevelMultipartDeclaredEightBitBecomesSevenBit) {
  const std::string in =
      Crlf({"MIME-Version: 1.0", "Content-Transfer-Encoding: binary",
            "Content-Type: multipart/mixed; boundary=b", "", "--b", "", kGruesse, "--b--"});
  EXPECT_EQ(Downgrade(in), Crlf({"MIME-Version: 1.0", "Content-Transfer-Encoding: 7bit",
                                 "Content-Type: multipart/mixed; boundary=b", "", "--b",
                                 "Content-Transfer-Encoding: quoted-printable", "",
                                 "Gr=C3=BC=C3=9Fe aus K=C3=B6ln", "--b--"}));
}

TEST(DowngradeTest, DigestPartsDefaultToMessageRfc822) {
  const std::string in = Crlf({"MIME-Version: 1.0", "Content-Type: multipart/digest; boundary=d",
                               "", "--d", "", "Subject: one", "", kGruesse, "--d--"});
  EXPECT_EQ(Downgrade(in),
            Crlf({"MIME-Version: 1.0", "Content-Type: multipart/digest; boundary=d", "", "--d", "",
                  "Subject: one", "Content-Transfer-Encoding: quoted-printable", "",
                  "Gr=C3=BC=C3=9Fe aus K=C3=B6ln", "--d--"}));
  // The enclosed message's header is a header: 8-bit octets there cannot be converted.
  EXPECT_FALSE(DowngradeTo7Bit(Crlf({"Content-Type: multipart/digest; boundary=d", "", "--d", "",
                                     absl::StrCat("Subject: ", kGruesse), "", "x", "--d--"}))
                   .ok());
}

TEST(DowngradeTest, BoundaryOnlyCountsAtLineStartAndExactly) {
  const std::string body =
      absl::StrCat(kGruesse, " see --sep here\r\n --sep\r\n--sep-not\r\n--sepx");
  const std::string in = Crlf({"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=sep",
                               "", "--sep", "", body, "--sep--"});
  const std::string out = Downgrade(in);
  // One part, encoded as a whole.
  EXPECT_EQ(DecodeQp(Between(out, "quoted-printable\r\n\r\n", "\r\n--sep--")), body);
}

TEST(DowngradeTest, DelimiterWithTransportPaddingAndUnquotedSpecialBoundary) {
  const std::string in =
      Crlf({"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=----=_Part_1_2.3; x=y",
            "", "------=_Part_1_2.3 \t", "", kGruesse, "------=_Part_1_2.3--  "});
  EXPECT_EQ(
      Downgrade(in),
      Crlf({"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=----=_Part_1_2.3; x=y",
            "", "------=_Part_1_2.3 \t", "Content-Transfer-Encoding: quoted-printable", "",
            "Gr=C3=BC=C3=9Fe aus K=C3=B6ln", "------=_Part_1_2.3--  "}));
}

TEST(DowngradeTest, MissingCloseDelimiterMakesTheRestTheLastPart) {
  const std::string in = Crlf({"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=b", "",
                               "--b", "Content-Type: text/plain", "", "first", "--b",
                               "Content-Type: text/plain", "", kGruesse});
  EXPECT_EQ(
      Downgrade(in),
      Crlf({"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=b", "", "--b",
            "Content-Type: text/plain", "", "first", "--b", "Content-Type: text/plain",
            "Content-Transfer-Encoding: quoted-printable", "", "Gr=C3=BC=C3=9Fe aus K=C3=B6ln"}));
}

TEST(DowngradeTest, PartWithoutHeaderOrEmptyLineGetsOne) {
  // The part's first line is body text; the added field needs an empty line after it.
  const std::string in = absl::StrCat(
      Crlf({"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=b", "", "--b"}), kGruesse,
      "\r\n--b--\r\n");
  EXPECT_EQ(Downgrade(in), Crlf({"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=b",
                                 "", "--b", "Content-Transfer-Encoding: quoted-printable", "",
                                 "Gr=C3=BC=C3=9Fe aus K=C3=B6ln", "--b--"}));
}

TEST(DowngradeTest, LongEightBitLinesGetSoftBreaks) {
  std::string line;
  for (int i = 0; i < 300; ++i) line += (i % 5 == 0) ? "\xC3\xA4" : (i % 7 == 0 ? "= " : "x");
  const std::string body = absl::StrCat(line, "\t\r\n", line, "\r\n\r\nend ");
  const std::string in = absl::StrCat(Crlf({"MIME-Version: 1.0", "Subject: long", ""}), body);
  const std::string out = Downgrade(in);
  const std::string prefix = Crlf(
      {"MIME-Version: 1.0", "Subject: long", "Content-Transfer-Encoding: quoted-printable", ""});
  ASSERT_TRUE(absl::StartsWith(out, prefix)) << out;
  const absl::string_view encoded = absl::string_view(out).substr(prefix.size());
  for (absl::string_view l : absl::StrSplit(encoded, '\n')) {
    EXPECT_LE(l.size() + 1, 78u) << l;  // with its CRLF
  }
  EXPECT_THAT(out, HasSubstr("=09\r\n"));
  EXPECT_TRUE(absl::EndsWith(out, "end=20"));
  EXPECT_EQ(DecodeQp(encoded), body);
}

TEST(DowngradeTest, Errors) {
  struct Case {
    std::string name;
    std::string message;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"8-bit top-level header", Crlf({absl::StrCat("Subject: ", kGruesse), "", "body"}),
       "header field \"Subject\""},
      {"8-bit header and 8-bit body",
       Crlf({"From: a@example.test", absl::StrCat("X-Name: ", kGruesse), "", kGruesse}),
       "header field \"X-Name\""},
      {"8-bit folded header continuation",
       Crlf({"Subject: a", absl::StrCat(" ", kGruesse), "", "body"}), "header field \"Subject\""},
      {"8-bit part header",
       Crlf({"Content-Type: multipart/mixed; boundary=b", "", "--b",
             absl::StrCat("Content-Disposition: attachment; filename=\"", kGruesse, "\""), "", "x",
             "--b--"}),
       "header field \"Content-Disposition\""},
      {"8-bit header of an enclosed message",
       Crlf({"Content-Type: message/rfc822", "", absl::StrCat("Subject: ", kGruesse), "", "x"}),
       "header field \"Subject\""},
      {"binary", Crlf({"Content-Transfer-Encoding: binary", "", kGruesse}), "binary"},
      {"binary part",
       Crlf({"Content-Type: multipart/mixed; boundary=b", "", "--b",
             "Content-Transfer-Encoding: Binary", "", kGruesse, "--b--"}),
       "binary"},
      {"8-bit base64", Crlf({"Content-Transfer-Encoding: base64", "", kGruesse}), "base64"},
      {"8-bit quoted-printable",
       Crlf({"Content-Transfer-Encoding: quoted-printable", "", kGruesse}), "quoted-printable"},
      {"unknown encoding", Crlf({"Content-Transfer-Encoding: x-uuencode", "", kGruesse}),
       "x-uuencode"},
      {"8-bit preamble",
       Crlf({"Content-Type: multipart/mixed; boundary=b", "", kGruesse, "--b", "", "x", "--b--"}),
       "preamble"},
      {"8-bit epilogue",
       Crlf({"Content-Type: multipart/mixed; boundary=b", "", "--b", "", "x", "--b--", kGruesse}),
       "epilogue"},
      {"no delimiter", Crlf({"Content-Type: multipart/mixed; boundary=b", "", kGruesse}),
       "without a delimiter"},
      {"no boundary", Crlf({"Content-Type: multipart/mixed", "", kGruesse}), "boundary"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> out = DowngradeTo7Bit(c.message);
    ASSERT_FALSE(out.ok()) << c.name;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(out.status().message(), HasSubstr(c.why)) << c.name;
  }
}

TEST(DowngradeTest, DeepNestingIsRefused) {
  std::string message = kGruesse;
  for (int i = 0; i < 150; ++i)
    message = absl::StrCat("Content-Type: message/rfc822\r\n\r\n", message);
  absl::StatusOr<std::string> out = DowngradeTo7Bit(message);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("nesting"));
}

}  // namespace
}  // namespace volley::message
