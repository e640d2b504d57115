#include "engine/message/mime_encoding.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/bytes.h"
#include "engine/message/mime_downgrade.h"

namespace volley::message {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// RFC 5322 2.1.1.
constexpr size_t kMaxLine = 998;
// A run of white space and a word longer than this cannot be written plain: with the longest
// line it may follow (78 columns) it would pass 998 octets.
constexpr size_t kMaxPlainSegment = kMaxLine - HeaderFolder::kLineLimit;

// RFC 2047 2: an encoded word is at most 75 characters, of which "=?UTF-8?B?" and "?=" take 12.
constexpr size_t kMaxEncodedWord = 75;
constexpr size_t kEncodedWordOverhead = 12;
// Room for a word holding the widest character: a 4-octet one is 12 characters in Q.
constexpr size_t kMinEncodedWord = kEncodedWordOverhead + 12;

// RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle brackets.
constexpr size_t kMaxAddress = 254;

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// A control character: not allowed raw in any header text we write (RFC 5322 VCHAR / WSP).
bool IsControl(unsigned char c) { return (c < 32 && c != '\t') || c == 127; }

// RFC 5322 3.2.3 atext.
bool IsAtext(unsigned char c) {
  return absl::ascii_isalnum(c) || (c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

// RFC 2047 5(3): the characters a Q-encoded word in a phrase may hold as they are.
bool IsQLiteral(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}
size_t QLength(unsigned char c) { return IsQLiteral(c) || c == ' ' ? 1 : 3; }

// RFC 2231 7 attribute-char, less '{' and '}' (which some parsers treat as special).
bool IsAttributeChar(unsigned char c) {
  return absl::ascii_isalnum(c) || (c != 0 && std::strchr("!#$&+-.^_`|~", c) != nullptr);
}

// The octets of the UTF-8 character starting at s[i], for text already checked (at least 1,
// never past the end).
size_t CharLength(absl::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const size_t length = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  return std::min(length, s.size() - i);
}

void AppendHexEscape(char prefix, unsigned char c, std::string* out) {
  out->push_back(prefix);
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xF]);
}

// RFC 2231 extended-value octets.
size_t PercentEncodedLength(absl::string_view s) {
  size_t length = 0;
  for (char c : s) length += IsAttributeChar(static_cast<unsigned char>(c)) ? 1 : 3;
  return length;
}
void AppendPercentEncoded(absl::string_view s, std::string* out) {
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (IsAttributeChar(c)) {
      out->push_back(ch);
    } else {
      AppendHexEscape('%', c, out);
    }
  }
}

// Whether text must be written as encoded words rather than as it is.
bool NeedsEncodedWords(absl::string_view text) {
  size_t segment = 0;
  bool in_word = false;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || IsControl(c)) return true;
    if (IsWsp(ch) && in_word) segment = 0;
    in_word = !IsWsp(ch);
    if (++segment > kMaxPlainSegment) return true;
  }
  // Readers decode anything shaped like an encoded word (Python's parser even inside a word),
  // so text containing "=?" is encoded to come out as written.
  return absl::StrContains(text, "=?");
}

}  // namespace

TransferEncoding ChooseTextEncoding(absl::string_view text) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  bool seven_bit = true;
  size_t escapes = 0;
  size_t line = 0;
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Most text is printable ASCII: eight octets at a time while none is a control (line
    // breaks included), 8-bit, DEL or '=' (the SWAR tests of "Bit Twiddling Hacks").
    if (n - i >= 8) {
      uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
      const uint64_t above_tilde = ((w + kOnes * (127 - 126)) | w) & kHighs;
      const uint64_t e = w ^ (kOnes * '=');
      const uint64_t equals = (e - kOnes) & ~e & kHighs;
      if ((below_space | above_tilde | equals) == 0) {
        line += 8;
        if (line > kMaxLine) seven_bit = false;
        i += 8;
        continue;
      }
    }
    // Then octet by octet up to the next word.
    for (const size_t end = std::min(n, i + 8); i < end; ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (c == '\n' || c == '\r') {
        line = 0;
        continue;
      }
      if (++line > kMaxLine) seven_bit = false;
      if (c >= 0x80 || c == 0) {
        seven_bit = false;
        ++escapes;
      } else if (c == '=' || IsControl(c)) {
        ++escapes;
      }
    }
  }
  if (seven_bit) return TransferEncoding::k7Bit;
  // Each escape is 3 characters: at 1/6 escaped, quoted-printable grows the text by 1/3 (plus
  // soft breaks), as base64 does, and stays readable.
  return escapes * 6 <= n ? TransferEncoding::kQuotedPrintable : TransferEncoding::kBase64;
}

absl::string_view TransferEncodingName(TransferEncoding e) {
  switch (e) {
    case TransferEncoding::k7Bit:
      return "7bit";
    case TransferEncoding::kQuotedPrintable:
      return "quoted-printable";
    case TransferEncoding::kBase64:
      return "base64";
  }
  return "7bit";
}

std::string EncodeQuotedPrintableText(absl::string_view text) {
  // The shared encoder keeps CRLF as hard breaks and encodes any other CR or LF as data.
  return EncodeQuotedPrintable(ToCrlf(text));
}

void AppendBase64Lines(absl::string_view data, std::string* out) {
  // 57 octets make one 76-character line.
  constexpr size_t kLineOctets = 57;
  const size_t n = data.size();
  if (n == 0) return;
  const size_t lines = (n + kLineOctets - 1) / kLineOctets;
  const size_t start = out->size();
  out->resize(start + (n + 2) / 3 * 4 + 2 * lines);
  char* p = out->data() + start;
  const unsigned char* s = reinterpret_cast<const unsigned char*>(data.data());
  size_t i = 0;
  while (i < n) {
    const size_t line_end = std::min(n, i + kLineOctets);
    for (; i + 3 <= line_end; i += 3) {
      const uint32_t v = (uint32_t{s[i]} << 16) | (uint32_t{s[i + 1]} << 8) | s[i + 2];
      *p++ = kBase64[v >> 18];
      *p++ = kBase64[(v >> 12) & 63];
      *p++ = kBase64[(v >> 6) & 63];
      *p++ = kBase64[v & 63];
    }
    // Only the last line can end in a partial group, since 57 is a multiple of 3.
    if (i < line_end) {
      const bool two = line_end - i == 2;
      const uint32_t v = (uint32_t{s[i]} << 16) | (two ? uint32_t{s[i + 1]} << 8 : 0);
      *p++ = kBase64[v >> 18];
      *p++ = kBase64[(v >> 12) & 63];
      *p++ = two ? kBase64[(v >> 6) & 63] : '=';
      *p++ = '=';
      i = line_end;
    }
    *p++ = '\r';
    *p++ = '\n';
  }
}

std::string EncodeBase64Lines(absl::string_view data) {
  std::string out;
  AppendBase64Lines(data, &out);
  return out;
}

void AppendCrlf(absl::string_view text, std::string* out) {
  constexpr size_t npos = absl::string_view::npos;
  const size_t n = text.size();
  // The next LF and CR at or after `run` (memchr), so that text between breaks is copied whole.
  size_t lf = text.find('\n');
  size_t cr = text.find('\r');
  size_t run = 0;  // start of the octets not yet copied
  while (lf != npos || cr != npos) {
    const size_t p = std::min(lf, cr);
    out->append(text.data() + run, p - run);
    out->append("\r\n");
    run = p + (p == cr && p + 1 < n && text[p + 1] == '\n' ? 2 : 1);
    if (lf != npos && lf < run) lf = text.find('\n', run);
    if (cr != npos && cr < run) cr = text.find('\r', run);
  }
  out->append(text.data() + run, n - run);
}

std::string ToCrlf(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  AppendCrlf(text, &out);
  return out;
}

absl::Status CheckHeaderText(absl::string_view utf8) {
  if (utf8.find_first_of("\r\n") != absl::string_view::npos) {
    return absl::InvalidArgumentError("contains a line break");
  }
  if (!IsValidUtf8(utf8)) return absl::InvalidArgumentError("is not valid UTF-8");
  return absl::OkStatus();
}

void HeaderFolder::Put(absl::string_view wsp, absl::string_view text, size_t limit) {
  if (fold_ && !wsp.empty() && !text.empty() && column_ > 0 &&
      column_ + wsp.size() + text.size() > limit) {
    out_->append("\r\n");
    column_ = 0;
  }
  out_->append(wsp.data(), wsp.size());
  out_->append(text.data(), text.size());
  column_ += wsp.size() + text.size();
}

void HeaderFolder::PutFoldable(absl::string_view text, absl::string_view first_wsp) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    size_t word = i;
    while (word < n && IsWsp(text[word])) ++word;
    size_t end = word;
    while (end < n && !IsWsp(text[end])) ++end;
    const absl::string_view wsp = text.substr(i, word - i);
    Put(i == 0 && wsp.empty() ? first_wsp : wsp, text.substr(word, end - word));
    i = end;
  }
}

void AppendEncodedWords(absl::string_view utf8, bool space_before, HeaderFolder* folder) {
  const size_t n = utf8.size();
  size_t q_total = 0;
  for (char c : utf8) q_total += QLength(static_cast<unsigned char>(c));
  const bool b = (n + 2) / 3 * 4 < q_total;
  std::string word;
  word.reserve(kMaxEncodedWord);
  size_t i = 0;
  bool first = true;
  while (i < n) {
    const bool space = !first || space_before;
    size_t room = kMaxEncodedWord;
    if (first) {
      // The first word fills what is left of the line when that is enough for a character;
      // otherwise it starts a line of its own.
      const size_t used = folder->column() + (space ? 1 : 0);
      const size_t left = used < HeaderFolder::kEncodedWordLineLimit
                              ? HeaderFolder::kEncodedWordLineLimit - used
                              : 0;
      if (left >= kMinEncodedWord) room = std::min(room, left);
    }
    const size_t payload = room - kEncodedWordOverhead;
    word.assign(b ? "=?UTF-8?B?" : "=?UTF-8?Q?");
    size_t end = i;
    if (b) {
      const size_t max_octets = payload / 4 * 3;
      while (end < n) {
        const size_t length = CharLength(utf8, end);
        if (end > i && end - i + length > max_octets) break;
        end += length;
      }
      AppendBase64Lines(utf8.substr(i, end - i), &word);
      word.resize(word.size() - 2);  // its CRLF: one line, since max_octets < 57
    } else {
      size_t used = 0;
      while (end < n) {
        const size_t length = CharLength(utf8, end);
        size_t encoded = 0;
        for (size_t k = 0; k < length; ++k) {
          encoded += QLength(static_cast<unsigned char>(utf8[end + k]));
        }
        if (end > i && used + encoded > payload) break;
        for (size_t k = 0; k < length; ++k) {
          const unsigned char c = static_cast<unsigned char>(utf8[end + k]);
          if (c == ' ') {
            word.push_back('_');
          } else if (IsQLiteral(c)) {
            word.push_back(static_cast<char>(c));
          } else {
            AppendHexEscape('=', c, &word);
          }
        }
        used += encoded;
        end += length;
      }
    }
    word.append("?=");
    // A first word that does not fit after the field name starts a line of its own: the fold
    // needs white space before it.
    constexpr size_t kLimit = HeaderFolder::kEncodedWordLineLimit;
    const bool fold_first = first && folder->column() + word.size() > kLimit;
    folder->Put(space || fold_first ? " " : "", word, kLimit);
    i = end;
    first = false;
  }
}

void AppendUnstructured(absl::string_view utf8_value, HeaderFolder* folder) {
  if (NeedsEncodedWords(utf8_value)) {
    AppendEncodedWords(utf8_value, /*space_before=*/false, folder);
  } else {
    folder->PutFoldable(utf8_value);
  }
}

absl::StatusOr<std::string> EncodeUnstructured(absl::string_view utf8_value, size_t name_length) {
  if (absl::Status s = CheckHeaderText(utf8_value); !s.ok()) return s;
  std::string out;
  out.reserve(utf8_value.size() + utf8_value.size() / 2 + 16);
  HeaderFolder folder(&out, name_length);
  AppendUnstructured(utf8_value, &folder);
  return out;
}

namespace {

absl::Status CheckLocalPart(absl::string_view local) {
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
    // A quoted-string: qtext and quoted pairs (spaces and controls were refused before).
    size_t i = 1;
    for (; i + 1 < local.size(); ++i) {
      if (local[i] == '"') break;
      if (local[i] == '\\') ++i;  // a quoted pair
    }
    // Stopped early at an inner quote, or past the end by a pair that took the closing quote.
    if (i != local.size() - 1) {
      return absl::InvalidArgumentError("has a malformed quoted local part");
    }
    return absl::OkStatus();
  }
  for (char ch : local) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x80 && c != '.' && !IsAtext(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("has '", absl::string_view(&ch, 1),
                       "' in its local part (allowed only in a quoted local part)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDomain(absl::string_view domain) {
  if (domain.front() == '[') {
    if (domain.size() < 3 || domain.back() != ']' ||
        domain.substr(1, domain.size() - 2).find_first_of("[]\\") != absl::string_view::npos) {
      return absl::InvalidArgumentError("has a malformed domain literal");
    }
    return absl::OkStatus();
  }
  if (domain.front() == '.' || domain.back() == '.' || absl::StrContains(domain, "..")) {
    return absl::InvalidArgumentError("has an empty label in its domain");
  }
  for (char ch : domain) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x80 && c != '.' && !IsAtext(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("has '", absl::string_view(&ch, 1), "' in its domain"));
    }
  }
  return absl::OkStatus();
}

enum class PhraseForm { kAtoms, kQuoted, kEncoded };

PhraseForm PhraseFormOf(absl::string_view name) {
  for (char ch : name) {
    const unsigned char c = static_cast<unsigned char>(ch);
    // A tab would be FWS in a quoted-string and lost to readers that unfold it.
    if (c >= 0x80 || IsControl(c) || c == '\t') return PhraseForm::kEncoded;
  }
  if (name.size() > kMaxPlainSegment) return PhraseForm::kEncoded;
  // Atoms lose leading, trailing and repeated spaces (they are CFWS). "=?" would make an atom
  // an encoded word; in a quoted-string it is not one (RFC 2047 5(3)).
  if (name.front() == ' ' || name.back() == ' ' || absl::StrContains(name, "  ") ||
      absl::StrContains(name, "=?")) {
    return PhraseForm::kQuoted;
  }
  for (char ch : name) {
    if (ch != ' ' && !IsAtext(static_cast<unsigned char>(ch))) return PhraseForm::kQuoted;
  }
  return PhraseForm::kAtoms;
}

}  // namespace

absl::Status CheckAddress(absl::string_view address) {
  if (address.empty()) return absl::InvalidArgumentError("is empty");
  for (char ch : address) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n') return absl::InvalidArgumentError("contains a line break");
    if (c == 0) return absl::InvalidArgumentError("contains a NUL octet");
    if (IsControl(c)) return absl::InvalidArgumentError("contains a control character");
    if (IsWsp(ch)) return absl::InvalidArgumentError("contains white space");
    if (c == '<' || c == '>') return absl::InvalidArgumentError("contains '<' or '>'");
  }
  if (!IsValidUtf8(address)) return absl::InvalidArgumentError("is not valid UTF-8");
  if (address.size() > kMaxAddress) {
    return absl::InvalidArgumentError(absl::StrCat("is longer than ", kMaxAddress, " octets"));
  }
  const size_t at = address.rfind('@');
  if (at == absl::string_view::npos) return absl::InvalidArgumentError("has no '@'");
  if (at == 0) return absl::InvalidArgumentError("has an empty local part");
  if (at + 1 == address.size()) return absl::InvalidArgumentError("has an empty domain");
  if (absl::Status s = CheckLocalPart(address.substr(0, at)); !s.ok()) return s;
  return CheckDomain(address.substr(at + 1));
}

void AppendMailbox(absl::string_view display_name, absl::string_view address, bool space_before,
                   HeaderFolder* folder) {
  const absl::string_view lead = space_before ? " " : "";
  if (display_name.empty()) {
    folder->Put(lead, address);
    return;
  }
  switch (PhraseFormOf(display_name)) {
    case PhraseForm::kAtoms:
      folder->PutFoldable(display_name, lead);
      break;
    case PhraseForm::kQuoted: {
      std::string quoted;
      quoted.reserve(display_name.size() + 8);
      quoted.push_back('"');
      for (char c : display_name) {
        if (c == '"' || c == '\\') quoted.push_back('\\');
        quoted.push_back(c);
      }
      quoted.push_back('"');
      // White space inside a quoted-string is FWS (RFC 5322 3.2.4): folding there is allowed
      // and unfolds to the same name.
      folder->PutFoldable(quoted, lead);
      break;
    }
    case PhraseForm::kEncoded:
      AppendEncodedWords(display_name, space_before, folder);
      break;
  }
  folder->Put(" ", absl::StrCat("<", address, ">"));
}

absl::StatusOr<std::string> FormatMailbox(absl::string_view display_name,
                                          absl::string_view address) {
  if (absl::Status s = CheckAddress(address); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("address ", s.message()));
  }
  if (absl::Status s = CheckHeaderText(display_name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("display name ", s.message()));
  }
  std::string out;
  out.reserve(display_name.size() * 2 + address.size() + 16);
  HeaderFolder folder = HeaderFolder::OneLine(&out);
  AppendMailbox(display_name, address, /*space_before=*/false, &folder);
  return out;
}

void AppendMimeParameter(absl::string_view attribute, absl::string_view utf8_value,
                         std::string* out, ParameterEncoding encoding) {
  constexpr size_t kLimit = HeaderFolder::kLineLimit;
  bool printable = true;
  size_t escaped = utf8_value.size();
  for (char ch : utf8_value) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 32 || c >= 127) printable = false;
    if (c == '"' || c == '\\') ++escaped;
  }
  const size_t encoded = PercentEncodedLength(utf8_value);
  // Each line: SP attribute ... ";" (the ';' of the next parameter, if any, ends it).
  if (printable && 1 + attribute.size() + 3 + escaped + 1 <= kLimit) {
    absl::StrAppend(out, ";\r\n ", attribute, "=\"");
    for (char c : utf8_value) {
      if (c == '"' || c == '\\') out->push_back('\\');
      out->push_back(c);
    }
    out->push_back('"');
    return;
  }
  if (encoding == ParameterEncoding::kEncodedWords) {
    absl::StrAppend(out, ";\r\n ", attribute, "=\"");
    HeaderFolder folder(out, 1 + attribute.size() + 2);
    AppendEncodedWords(utf8_value, /*space_before=*/false, &folder);
    out->push_back('"');
    return;
  }
  // RFC 2231 3 and 4: one extended value when it fits the line, else numbered sections of
  // whole characters, since some readers (Python's) decode each section's octets on their own.
  constexpr absl::string_view kCharset = "UTF-8''";
  const bool sections = 1 + attribute.size() + 2 + kCharset.size() + encoded + 1 > kLimit;
  if (!sections) {
    absl::StrAppend(out, ";\r\n ", attribute, "*=", kCharset);
    AppendPercentEncoded(utf8_value, out);
    return;
  }
  const size_t n = utf8_value.size();
  size_t i = 0;
  for (size_t section = 0; i < n; ++section) {
    const std::string head = absl::StrCat(attribute, "*", section, "*=");
    const absl::string_view charset = section == 0 ? kCharset : "";
    absl::StrAppend(out, ";\r\n ", head, charset);
    const size_t budget = kLimit - 1 - head.size() - charset.size() - 1;
    size_t used = 0;
    while (i < n) {
      const size_t length = CharLength(utf8_value, i);
      const absl::string_view c = utf8_value.substr(i, length);
      const size_t width = PercentEncodedLength(c);
      if (used > 0 && used + width > budget) break;
      AppendPercentEncoded(c, out);
      used += width;
      i += length;
    }
  }
}

}  // namespace volley::message
