#include "engine/message/mime_downgrade.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/base/bytes.h"
#include "engine/message/header.h"

namespace volley::message {
namespace {

// Deeper MIME nesting is refused rather than followed (Postfix: mime_nesting_limit = 100): the
// walk recurses once per level.
constexpr int kMaxNesting = 100;

constexpr absl::string_view kCrlf = "\r\n";

absl::Status Unconvertible(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("message cannot be converted to 7 bit: ", why));
}

// A cursor over a structured header value (RFC 2045 5.1 / RFC 5322 3.2.2).
class ValueLexer {
 public:
  explicit ValueLexer(absl::string_view s) : s_(s) {}

  // Skips white space and (nested) comments.
  void SkipCfws() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t') {
        ++pos_;
      } else if (c == '(') {
        int depth = 0;
        while (pos_ < s_.size()) {
          const char d = s_[pos_++];
          if (d == '\\') {
            ++pos_;
          } else if (d == '(') {
            ++depth;
          } else if (d == ')' && --depth == 0) {
            break;
          }
        }
      } else {
        return;
      }
    }
  }

  bool Consume(char c) {
    SkipCfws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // An RFC 2045 token, lower-cased; "" when there is none.
  std::string Token() {
    SkipCfws();
    const size_t start = pos_;
    while (pos_ < s_.size() && IsTokenChar(s_[pos_])) ++pos_;
    return absl::AsciiStrToLower(s_.substr(start, pos_ - start));
  }

  // A parameter value: a quoted-string (unquoted) or, leniently, everything up to the next ';'
  // or white space, because generators put tspecials such as '=' in unquoted boundaries.
  std::string Value() {
    SkipCfws();
    std::string value;
    if (pos_ < s_.size() && s_[pos_] == '"') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        value.push_back(s_[pos_++]);
      }
      if (pos_ < s_.size()) ++pos_;  // the closing quote
      return value;
    }
    while (pos_ < s_.size() && s_[pos_] != ';' && s_[pos_] != ' ' && s_[pos_] != '\t') {
      value.push_back(s_[pos_++]);
    }
    return value;
  }

  // Skips to just after the next ';' outside quotes; false at the end of the value.
  bool NextParameter() {
    bool quoted = false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '\\' && quoted) {
        ++pos_;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ';' && !quoted) {
        return true;
      }
    }
    return false;
  }

 private:
  static bool IsTokenChar(char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u > ' ' && u < 127 && !absl::StrContains("()<>@,;:\\\"/[]?=", c);
  }

  absl::string_view s_;
  size_t pos_ = 0;
};

struct ContentType {
  std::string type;
  std::string subtype;
  std::string boundary;  // multipart only
};

// Parses a Content-Type value; an unparsable one is text/plain (RFC 2045 5.2).
ContentType ParseContentType(absl::string_view value) {
  ValueLexer lexer(value);
  ContentType ct;
  ct.type = lexer.Token();
  if (ct.type.empty() || !lexer.Consume('/')) return {"text", "plain", ""};
  ct.subtype = lexer.Token();
  if (ct.subtype.empty()) return {"text", "plain", ""};
  while (lexer.NextParameter()) {
    const std::string attribute = lexer.Token();
    if (!lexer.Consume('=')) continue;
    // The first boundary wins; RFC 2231 continuations (boundary*0) are not supported.
    if (attribute == "boundary" && ct.boundary.empty()) ct.boundary = lexer.Value();
  }
  return ct;
}

std::string ParseEncoding(absl::string_view value) { return ValueLexer(value).Token(); }

bool IsIdentityEncoding(absl::string_view cte) {
  return cte.empty() || cte == "7bit" || cte == "8bit" || cte == "binary";
}

std::string Printable(absl::string_view s) { return absl::CHexEscape(s); }

// Appends the entity's header section and the empty line after it. A non-empty `encoding`
// replaces every Content-Transfer-Encoding field by one (at the first one's place, or at the
// end); `add_mime_version` appends "MIME-Version: 1.0".
void AppendHeader(const HeaderSection& entity, absl::string_view encoding, bool add_mime_version,
                  std::string* out) {
  bool replaced = encoding.empty();
  for (const HeaderField& field : entity.fields) {
    if (!encoding.empty() && absl::EqualsIgnoreCase(field.name, "Content-Transfer-Encoding")) {
      if (!replaced) absl::StrAppend(out, "Content-Transfer-Encoding: ", encoding, kCrlf);
      replaced = true;
      continue;
    }
    out->append(field.raw.data(), field.raw.size());
    // Only the last field of an entity without body can lack its line break.
    if (field.raw.back() != '\n') out->append(kCrlf.data(), kCrlf.size());
  }
  if (!replaced) absl::StrAppend(out, "Content-Transfer-Encoding: ", encoding, kCrlf);
  if (add_mime_version) out->append("MIME-Version: 1.0\r\n");
  // Without an empty line, the encoded body's first line could be taken for a header field.
  if (entity.separator.empty()) {
    out->append(kCrlf.data(), kCrlf.size());
  } else {
    out->append(entity.separator.data(), entity.separator.size());
  }
}

enum class DefaultType { kTextPlain, kMessageRfc822 };

absl::Status ConvertEntity(absl::string_view text, bool top_level, DefaultType default_type,
                           int depth, std::string* out);

// Returns true when `line` is a delimiter line for `boundary` ("--boundary" or the close
// delimiter "--boundary--", each followed only by transport padding: RFC 2046 5.1.1).
bool IsDelimiterLine(absl::string_view line, absl::string_view boundary, bool* close) {
  if (line.size() < boundary.size() + 2 || line[0] != '-' || line[1] != '-' ||
      line.substr(2, boundary.size()) != boundary) {
    return false;
  }
  absl::string_view rest = line.substr(boundary.size() + 2);
  *close = absl::StartsWith(rest, "--");
  if (*close) rest.remove_prefix(2);
  for (char c : rest) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

// Converts the body of a multipart entity part by part; preamble, delimiter lines (with the
// line break before them, which RFC 2046 counts as part of the delimiter) and epilogue are
// copied verbatim.
absl::Status ConvertMultipartBody(absl::string_view body, absl::string_view boundary,
                                  DefaultType part_default, int depth, std::string* out) {
  size_t segment_start = 0;  // start of the preamble or of the current part
  bool in_preamble = true;
  size_t pos = 0;
  while (pos < body.size()) {
    const Line line = LineAt(body, pos);
    bool close = false;
    if (!IsDelimiterLine(line.text, boundary, &close)) {
      pos = line.next;
      continue;
    }
    // The segment ends before the line break that precedes the delimiter line.
    size_t segment_end = pos;
    if (segment_end > segment_start && body[segment_end - 1] == '\n') {
      --segment_end;
      if (segment_end > segment_start && body[segment_end - 1] == '\r') --segment_end;
    }
    const absl::string_view segment = body.substr(segment_start, segment_end - segment_start);
    if (in_preamble) {
      if (HasEightBit(segment)) return Unconvertible("8-bit octets in a multipart preamble");
      out->append(segment.data(), segment.size());
      in_preamble = false;
    } else if (absl::Status s =
                   ConvertEntity(segment, /*top_level=*/false, part_default, depth + 1, out);
               !s.ok()) {
      return s;
    }
    out->append(body.data() + segment_end, line.next - segment_end);
    segment_start = line.next;
    pos = line.next;
    if (close) {
      const absl::string_view epilogue = body.substr(line.next);
      if (HasEightBit(epilogue)) {
        return Unconvertible("8-bit octets in a multipart epilogue");
      }
      out->append(epilogue.data(), epilogue.size());
      return absl::OkStatus();
    }
  }
  if (in_preamble) {
    return Unconvertible(absl::StrCat("multipart body without a delimiter line for boundary \"",
                                      Printable(boundary), "\""));
  }
  // No close delimiter: the rest of the body is the last part.
  return ConvertEntity(body.substr(segment_start), /*top_level=*/false, part_default, depth + 1,
                       out);
}

// A multipart or message/rfc822 entity with an identity encoding: its parts are converted,
// and its own header relabelled when it claimed 8bit or binary.
absl::Status ConvertComposite(absl::string_view text, const HeaderSection& entity,
                              const ContentType& type, const std::string& encoding,
                              bool add_mime_version, int depth, std::string* out) {
  const bool multipart = type.type == "multipart";
  if (multipart && type.boundary.empty()) {
    return Unconvertible("multipart entity without a boundary parameter");
  }
  std::string body;
  body.reserve(entity.body.size() + entity.body.size() / 8);
  if (multipart) {
    const DefaultType part_default =
        type.subtype == "digest" ? DefaultType::kMessageRfc822 : DefaultType::kTextPlain;
    if (absl::Status s =
            ConvertMultipartBody(entity.body, type.boundary, part_default, depth, &body);
        !s.ok()) {
      return s;
    }
  } else if (absl::Status s = ConvertEntity(entity.body, /*top_level=*/false,
                                            DefaultType::kTextPlain, depth + 1, &body);
             !s.ok()) {
    return s;
  }
  // The parts are 7 bit now, and the composite entity says so if it claimed otherwise.
  const bool relabel = encoding == "8bit" || encoding == "binary";
  if (relabel || add_mime_version) {
    AppendHeader(entity, relabel ? "7bit" : "", add_mime_version, out);
  } else {
    out->append(text.data(), entity.body.data() - text.data());
  }
  out->append(body);
  return absl::OkStatus();
}

absl::Status ConvertEntity(absl::string_view text, bool top_level, DefaultType default_type,
                           int depth, std::string* out) {
  if (!HasEightBit(text)) {
    out->append(text.data(), text.size());
    return absl::OkStatus();
  }
  if (depth > kMaxNesting) {
    return Unconvertible(absl::StrCat("MIME nesting deeper than ", kMaxNesting, " levels"));
  }
  const HeaderSection entity = SplitHeader(text);
  for (const HeaderField& field : entity.fields) {
    if (HasEightBit(field.raw)) {
      return Unconvertible(absl::StrCat("8-bit octets in header field \"", Printable(field.name),
                                        "\" (header fields are not encoded; the message needs "
                                        "SMTPUTF8 or 8BITMIME)"));
    }
  }
  // Only the body has 8-bit octets from here on.

  ContentType type;
  if (const HeaderField* field = FindField(entity, "Content-Type")) {
    type = ParseContentType(UnfoldedValue(*field));
  } else if (default_type == DefaultType::kMessageRfc822) {
    type = {"message", "rfc822", ""};
  } else {
    type = {"text", "plain", ""};
  }
  std::string encoding;
  if (const HeaderField* field = FindField(entity, "Content-Transfer-Encoding")) {
    encoding = ParseEncoding(UnfoldedValue(*field));
  }
  const bool add_mime_version = top_level && FindField(entity, "MIME-Version") == nullptr;

  const bool multipart = type.type == "multipart";
  const bool rfc822 = type.type == "message" && type.subtype == "rfc822";
  if ((multipart || rfc822) && IsIdentityEncoding(encoding)) {
    return ConvertComposite(text, entity, type, encoding, add_mime_version, depth, out);
  }

  // A leaf entity (or an encoded composite one, which RFC 2045 forbids but which can be
  // passed on if it is 7 bit): its body has 8-bit octets.
  if (encoding == "binary") {
    return Unconvertible("8-bit body with Content-Transfer-Encoding binary");
  }
  if (encoding == "base64" || encoding == "quoted-printable") {
    return Unconvertible(absl::StrCat("8-bit octets in a body declared ", encoding));
  }
  if (!encoding.empty() && encoding != "7bit" && encoding != "8bit") {
    return Unconvertible(
        absl::StrCat("8-bit body with unknown Content-Transfer-Encoding ", Printable(encoding)));
  }
  AppendHeader(entity, "quoted-printable", add_mime_version, out);
  out->append(EncodeQuotedPrintable(entity.body));
  return absl::OkStatus();
}

}  // namespace

std::string EncodeQuotedPrintable(absl::string_view body) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  // RFC 2045 6.7 rule 5: encoded lines are at most 76 characters; a soft line break's '='
  // counts, so a line continued by one holds at most 75 others.
  constexpr size_t kMaxLine = 76;
  std::string out;
  out.reserve(body.size() + body.size() / 4 + 16);
  size_t line_length = 0;
  const size_t n = body.size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == '\r' && i + 1 < n && body[i + 1] == '\n') {
      out.append(kCrlf.data(), kCrlf.size());
      line_length = 0;
      ++i;
      continue;
    }
    // The end of the body counts as a line end: the caller puts a line break after it (the end
    // of the message, or the CRLF before a boundary delimiter).
    const bool at_line_end =
        i + 1 == n || (body[i + 1] == '\r' && i + 2 < n && body[i + 2] == '\n');
    char token[3];
    size_t token_length;
    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end)) {
      token[0] = static_cast<char>(c);
      token_length = 1;
    } else {
      token[0] = '=';
      token[1] = kHex[c >> 4];
      token[2] = kHex[c & 0xF];
      token_length = 3;
    }
    const bool fits_as_last = at_line_end && line_length + token_length <= kMaxLine;
    if (line_length + token_length > kMaxLine - 1 && !fits_as_last) {
      out.append("=\r\n");
      line_length = 0;
      // A line that a soft break starts with "--" could read as a multipart boundary delimiter
      // that the original text did not contain.
      if (c == '-') {
        token[0] = '=';
        token[1] = '2';
        token[2] = 'D';
        token_length = 3;
      }
    }
    out.append(token, token_length);
    line_length += token_length;
  }
  return out;
}

absl::StatusOr<std::string> DowngradeTo7Bit(absl::string_view content) {
  if (!HasEightBit(content)) return std::string(content);
  std::string out;
  out.reserve(content.size() + content.size() / 4);
  if (absl::Status s = ConvertEntity(content, /*top_level=*/true, DefaultType::kTextPlain, 0, &out);
      !s.ok()) {
    return s;
  }
  // Every path above either encodes 8-bit octets or fails; this guards that invariant, because
  // sending 8-bit data to a 7-bit server would be a protocol violation.
  if (HasEightBit(out)) {
    return absl::InternalError("8BITMIME downgrade left 8-bit octets in the message");
  }
  return out;
}

}  // namespace volley::message
