#include "engine/smtp/reply.h"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/base/logging.h"

namespace volley::smtp {
namespace {

// Parses 1 to 3 ASCII digits that make up all of `text`.
std::optional<int> ParseShortNumber(absl::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Appends one wire line. A CR that does not end a line could let reply text (which may
// echo client input, e.g. an address) forge an extra reply, so it becomes a space.
void AppendWireLine(int code, bool last, const std::optional<EnhancedCode>& enhanced,
                    absl::string_view text, std::string* out) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  absl::StrAppend(out, code);
  if (text.empty() && !enhanced.has_value()) {
    // RFC 5321 4.2: the text is optional; "250" alone is a valid last line.
    out->append(last ? "" : "-");
  } else {
    out->push_back(last ? ' ' : '-');
    if (enhanced.has_value()) {
      out->append(enhanced->ToString());
      if (!text.empty()) out->push_back(' ');
    }
    const size_t start = out->size();
    out->append(text.data(), text.size());
    for (size_t i = start; i < out->size(); ++i) {
      if ((*out)[i] == '\r') (*out)[i] = ' ';
    }
  }
  out->append("\r\n");
}

// Splits `text` at '\n' into `lines`; a '\r' before a '\n' and one trailing '\n' are dropped.
void SplitLines(absl::string_view text, std::vector<absl::string_view>* lines) {
  while (true) {
    const size_t lf = text.find('\n');
    if (lf == absl::string_view::npos) {
      lines->push_back(text);
      return;
    }
    absl::string_view line = text.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines->push_back(line);
    text.remove_prefix(lf + 1);
    if (text.empty()) return;
  }
}

}  // namespace

std::string EnhancedCode::ToString() const {
  return absl::StrCat(klass, ".", subject, ".", detail);
}

std::optional<EnhancedCode> ParseEnhancedCode(absl::string_view text) {
  if (text.size() < 5 || text[1] != '.') return std::nullopt;
  const char klass = text[0];
  if (klass != '2' && klass != '4' && klass != '5') return std::nullopt;
  absl::string_view rest = text.substr(2);
  const size_t dot = rest.find('.');
  if (dot == absl::string_view::npos) return std::nullopt;
  std::optional<int> subject = ParseShortNumber(rest.substr(0, dot));
  std::optional<int> detail = ParseShortNumber(rest.substr(dot + 1));
  if (!subject.has_value() || !detail.has_value()) return std::nullopt;
  return EnhancedCode{klass - '0', *subject, *detail};
}

std::string Reply::Summary() const {
  if (!enhanced) return absl::StrCat(code, " ", Text());
  return absl::StrCat(code, " ", enhanced->ToString(), " ", Text());
}

std::string Reply::Text() const {
  std::string text;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) text.push_back(' ');
    text.append(lines[i]);
  }
  return text;
}

std::string Reply::ToWire() const {
  std::vector<absl::string_view> wire_lines;
  for (const std::string& line : lines) SplitLines(line, &wire_lines);
  if (wire_lines.empty()) wire_lines.push_back("");
  std::string out;
  size_t estimate = 0;
  for (absl::string_view line : wire_lines) estimate += line.size() + 16;
  out.reserve(estimate);
  for (size_t i = 0; i < wire_lines.size(); ++i) {
    AppendWireLine(code, i + 1 == wire_lines.size(), enhanced, wire_lines[i], &out);
  }
  return out;
}

Reply MakeReply(int code, absl::string_view enhanced, absl::string_view text) {
  DCHECK(code >= 200 && code <= 599) << code;
  Reply reply;
  reply.code = code;
  if (!enhanced.empty()) {
    reply.enhanced = ParseEnhancedCode(enhanced);
    DCHECK(reply.enhanced.has_value()) << "bad enhanced code " << enhanced;
    DCHECK(!reply.enhanced.has_value() || reply.enhanced->klass == code / 100)
        << enhanced << " does not match " << code;
  }
  std::vector<absl::string_view> lines;
  SplitLines(text, &lines);
  for (absl::string_view line : lines) reply.lines.emplace_back(line);
  return reply;
}

}  // namespace volley::smtp
