#include "engine/message/message_tags.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace volley::message {
namespace {

bool IsTagCharacter(char c) {
  switch (c) {
    case '.':
    case '_':
    case ':':
    case '@':
    case '+':
    case '-':
      return true;
    default:
      return absl::ascii_isalnum(static_cast<unsigned char>(c));
  }
}

}  // namespace

absl::Status CheckTag(absl::string_view value) {
  bool ok = !value.empty() && value.size() <= kMaxTagLength;
  for (size_t i = 0; ok && i < value.size(); ++i) ok = IsTagCharacter(value[i]);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(QuoteForMessage(value), " is not 1 to ",
                                                 kMaxTagLength,
                                                 " of the characters A-Z a-z 0-9 . _ : @ + -"));
}

absl::StatusOr<uint8_t> ParsePriority(absl::string_view value) {
  if (value.size() == 1 && absl::ascii_isdigit(static_cast<unsigned char>(value[0]))) {
    return static_cast<uint8_t>(value[0] - '0');
  }
  if (absl::EqualsIgnoreCase(value, "high")) return kPriorityHigh;
  if (absl::EqualsIgnoreCase(value, "normal")) return kPriorityNormal;
  if (absl::EqualsIgnoreCase(value, "bulk")) return kPriorityBulk;
  return absl::InvalidArgumentError(absl::StrCat(
      QuoteForMessage(value), " is not a priority (high, normal, bulk or a digit 0 to 9)"));
}

bool IsFieldName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

std::string QuoteForMessage(absl::string_view value) {
  const bool cut = value.size() > kMaxTagLength;
  if (cut) value = value.substr(0, kMaxTagLength);
  std::string out = "\"";
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u >= 32 && u < 127) {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    }
  }
  out.push_back('"');
  if (cut) out.append("...");
  return out;
}

}  // namespace volley::message
