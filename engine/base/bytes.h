// Small byte-level helpers shared by the protocol, message and configuration code.
#ifndef VOLLEY_ENGINE_BASE_BYTES_H_
#define VOLLEY_ENGINE_BASE_BYTES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace volley {

// True when any octet is above 127: 8-bit content (RFC 6152), a non-ASCII address that needs
// SMTPUTF8 (RFC 6531), or a UTF-8 name that must be written as A-labels. Checks eight octets
// at a time, since it runs over whole message bodies at injection.
bool HasEightBit(absl::string_view bytes);

// Well-formed UTF-8, as RFC 3629 defines it: no overlong forms, surrogates or code points past
// U+10FFFF. ASCII is skipped eight octets at a time.
bool IsValidUtf8(absl::string_view s);

// Undoes "+XX" escapes (two hex digits, either case): RFC 3461's xtext, and the recipient in a
// VERP address. nullopt when a '+' is not followed by two hex digits.
std::optional<std::string> DecodeHexEscapes(absl::string_view text);

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_BYTES_H_
