#include "engine/smtp/esmtp_params.h"

#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/local_replies.h"

namespace volley::smtp {
namespace {

// RFC 3461 4.4 and 4.2: the limits on ENVID and ORCPT values.
constexpr size_t kMaxEnvidLength = 100;
constexpr size_t kMaxOrcptLength = 500;

bool IsUpperHex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// xtext = *( xchar / hexchar ): xchar is "!" to "~" except "+" and "="; hexchar is "+" and
// two upper-case hex digits (RFC 3461 4). With `utf8` (RFC 6533 utf-8-addr-xtext and
// unitext, for ORCPT=utf-8;...), UTF-8 (already checked well-formed by the parser) and
// "\x{HEX}" are allowed too.
bool IsXtext(absl::string_view s, bool utf8) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if (c == '+') {
      if (i + 2 >= s.size() || !IsUpperHex(s[i + 1]) || !IsUpperHex(s[i + 2])) return false;
      i += 2;
    } else if (utf8 && c == '\\') {
      // "\x{" 1*6HEXDIG "}"
      if (s.substr(i, 3) != "\\x{") return false;
      size_t j = i + 3;
      size_t digits = 0;
      while (j < s.size() && absl::ascii_isxdigit(static_cast<unsigned char>(s[j]))) {
        ++j;
        ++digits;
      }
      if (digits == 0 || digits > 6 || j >= s.size() || s[j] != '}') return false;
      i = j;
    } else if (c >= 0x80) {
      if (!utf8) return false;
    } else if (c < '!' || c > '~' || c == '=') {
      return false;
    }
  }
  return true;
}

// NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ), case-insensitive, no repeats.
bool IsValidNotify(absl::string_view value) {
  if (absl::EqualsIgnoreCase(value, "NEVER")) return true;
  bool seen[3] = {false, false, false};
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    int index;
    if (absl::EqualsIgnoreCase(item, "SUCCESS")) {
      index = 0;
    } else if (absl::EqualsIgnoreCase(item, "FAILURE")) {
      index = 1;
    } else if (absl::EqualsIgnoreCase(item, "DELAY")) {
      index = 2;
    } else {
      return false;
    }
    if (seen[index]) return false;
    seen[index] = true;
  }
  return true;
}

// ORCPT=addr-type ";" xtext, addr-type an atom ("rfc822", "utf-8", ...).
bool IsValidOrcpt(absl::string_view value) {
  if (value.size() > kMaxOrcptLength) return false;
  const size_t semicolon = value.find(';');
  if (semicolon == absl::string_view::npos || semicolon == 0) return false;
  const absl::string_view type = value.substr(0, semicolon);
  for (char c : type) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  const absl::string_view address = value.substr(semicolon + 1);
  return !address.empty() && IsXtext(address, absl::EqualsIgnoreCase(type, "utf-8"));
}

Reply Unsupported(absl::string_view keyword) {
  return MakeLocalReply(LocalReply::kUnsupportedParameter, keyword);
}

// Checks one MAIL parameter, recording what it asks for in *effects; returns the reply that
// refuses it, if any.
std::optional<Reply> CheckMailParam(absl::string_view keyword, absl::string_view value,
                                    const OfferedExtensions& offered, MailParamEffects* effects) {
  if (keyword == "SIZE") {
    uint64_t size = 0;
    if (!absl::SimpleAtoi(value, &size)) return MakeLocalReply(LocalReply::kBadSizeParameter);
    effects->size_hint = size;
    return std::nullopt;
  }
  if (keyword == "BODY") {
    if (absl::EqualsIgnoreCase(value, "7BIT")) return std::nullopt;
    if (absl::EqualsIgnoreCase(value, "8BITMIME")) {
      if (!offered.eightbitmime) return Unsupported(keyword);
      return std::nullopt;
    }
    // BINARYMIME is not offered: Volley keeps messages as text and may relay them with DATA.
    if (absl::EqualsIgnoreCase(value, "BINARYMIME")) return Unsupported(keyword);
    return MakeLocalReply(LocalReply::kBadBodyParameter);
  }
  if (keyword == "SMTPUTF8") {
    if (!offered.smtputf8) return Unsupported(keyword);
    if (!value.empty()) return MakeLocalReply(LocalReply::kSmtputf8Value);
    effects->smtputf8 = true;
    return std::nullopt;
  }
  if (keyword == "RET" && offered.dsn) {
    if (absl::EqualsIgnoreCase(value, "FULL") || absl::EqualsIgnoreCase(value, "HDRS")) {
      return std::nullopt;
    }
    return MakeLocalReply(LocalReply::kBadRetParameter);
  }
  if (keyword == "ENVID" && offered.dsn) {
    if (!value.empty() && value.size() <= kMaxEnvidLength && IsXtext(value, /*utf8=*/false)) {
      return std::nullopt;
    }
    return MakeLocalReply(LocalReply::kBadEnvidParameter);
  }
  return Unsupported(keyword);
}

std::optional<Reply> CheckRcptParam(absl::string_view keyword, absl::string_view value,
                                    const OfferedExtensions& offered) {
  if (keyword == "NOTIFY" && offered.dsn) {
    if (IsValidNotify(value)) return std::nullopt;
    return MakeLocalReply(LocalReply::kBadNotifyParameter);
  }
  if (keyword == "ORCPT" && offered.dsn) {
    if (IsValidOrcpt(value)) return std::nullopt;
    return MakeLocalReply(LocalReply::kBadOrcptParameter);
  }
  return Unsupported(keyword);
}

}  // namespace

std::optional<Reply> CheckParameterList(absl::Span<const EsmtpParam> params, bool esmtp) {
  if (!params.empty() && !esmtp) return MakeLocalReply(LocalReply::kParametersNeedEhlo);
  // RFC 5321 4.1.1.11 allows each parameter once. Lists are short, so pairs are compared.
  for (size_t i = 0; i < params.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (params[i].first == params[j].first) {
        return MakeLocalReply(LocalReply::kRepeatedParameter);
      }
    }
  }
  return std::nullopt;
}

std::variant<MailParamEffects, Reply> CheckMailParams(absl::Span<const EsmtpParam> params,
                                                      const OfferedExtensions& offered) {
  MailParamEffects effects;
  for (const auto& [keyword, value] : params) {
    if (std::optional<Reply> refusal = CheckMailParam(keyword, value, offered, &effects)) {
      return *std::move(refusal);
    }
  }
  return effects;
}

std::optional<Reply> CheckRcptParams(absl::Span<const EsmtpParam> params,
                                     const OfferedExtensions& offered) {
  for (const auto& [keyword, value] : params) {
    if (std::optional<Reply> refusal = CheckRcptParam(keyword, value, offered)) return refusal;
  }
  return std::nullopt;
}

}  // namespace volley::smtp
