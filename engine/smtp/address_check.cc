#include "engine/smtp/address_check.h"

#include <idn2.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/bytes.h"
#include "engine/smtp/local_replies.h"

namespace volley::smtp {
namespace {

// Decodes the UTF-8 code point at s[*i] (the parser has checked the encoding) and moves past it.
uint32_t NextCodePoint(absl::string_view s, size_t* i) {
  const unsigned char c = s[*i];
  size_t extra = 0;
  uint32_t cp = c;
  if (c >= 0xF0) {
    extra = 3;
    cp = c & 0x07;
  } else if (c >= 0xE0) {
    extra = 2;
    cp = c & 0x0F;
  } else if (c >= 0xC0) {
    extra = 1;
    cp = c & 0x1F;
  }
  ++*i;
  for (size_t k = 0; k < extra && *i < s.size(); ++k, ++*i) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[*i]) & 0x3F);
  }
  return cp;
}

}  // namespace

bool IsInvisibleCodePoint(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F ||           // C0 controls, DEL
         (cp >= 0x80 && cp <= 0x9F) ||        // C1 controls
         cp == 0x00AD ||                      // soft hyphen
         cp == 0x034F ||                      // combining grapheme joiner
         cp == 0x061C ||                      // Arabic letter mark
         cp == 0x115F || cp == 0x1160 ||      // Hangul choseong/jungseong fillers
         (cp >= 0x17B4 && cp <= 0x17B5) ||    // Khmer inherent vowels
         cp == 0x180E ||                      // Mongolian vowel separator
         (cp >= 0x200B && cp <= 0x200F) ||    // zero-width space, joiners, LRM, RLM
         (cp >= 0x202A && cp <= 0x202E) ||    // bidirectional embeddings and overrides
         (cp >= 0x2060 && cp <= 0x206F) ||    // word joiner, invisible operators, isolates
         cp == 0x3164 ||                      // Hangul filler
         (cp >= 0xFE00 && cp <= 0xFE0F) ||    // variation selectors
         cp == 0xFEFF ||                      // BOM, zero-width no-break space
         cp == 0xFFA0 ||                      // halfwidth Hangul filler
         (cp >= 0xFFF0 && cp <= 0xFFF8) ||    // unassigned specials
         (cp >= 0x1D173 && cp <= 0x1D17A) ||  // musical formatting
         (cp >= 0xE0000 && cp <= 0xE007F);    // tags
}

std::optional<Reply> CheckEnvelopeAddress(absl::string_view address, bool smtputf8) {
  if (address.empty()) return std::nullopt;  // the null reverse-path
  const bool non_ascii = HasEightBit(address);
  if (non_ascii && !smtputf8) return MakeLocalReply(LocalReply::kNonAsciiAddress);
  for (size_t i = 0; i < address.size();) {
    const uint32_t cp = NextCodePoint(address, &i);
    if (IsInvisibleCodePoint(cp)) {
      return MakeLocalReply(LocalReply::kInvisibleInAddress, absl::StrFormat("U+%04X", cp));
    }
  }
  const size_t at = address.rfind('@');
  if (at == absl::string_view::npos) return std::nullopt;  // "postmaster"
  const absl::string_view domain = address.substr(at + 1);
  if (!domain.empty() && domain.front() == '[') return std::nullopt;  // an address literal
  const size_t dot = domain.rfind('.');
  if (dot == absl::string_view::npos) {
    return MakeLocalReply(LocalReply::kMalformedDomain,
                          "the domain has no dot (a name the public DNS could resolve has one)");
  }
  const absl::string_view top = domain.substr(dot + 1);
  bool numeric = true;
  for (char c : top) numeric = numeric && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (numeric) {
    return MakeLocalReply(LocalReply::kMalformedDomain,
                          "the top-level label is numeric (an IP address belongs in brackets)");
  }
  if (HasEightBit(domain)) {
    const std::string input(domain);
    char* converted = nullptr;
    const int rc =
        idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    idn2_free(converted);
    if (rc != IDN2_OK) {
      return MakeLocalReply(
          LocalReply::kMalformedDomain,
          absl::StrCat("not a valid internationalized domain name (", idn2_strerror(rc), ")"));
    }
  }
  return std::nullopt;
}

}  // namespace volley::smtp
