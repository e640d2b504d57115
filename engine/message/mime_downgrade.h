// 8BITMIME downgrade (RFC 6152 section 3, as Postfix's smtp client does it): when a message with
// 8-bit octets must go to a server that does not offer 8BITMIME, every leaf MIME part whose body
// holds 8-bit octets is re-encoded as quoted-printable. Header fields are never encoded: a
// message with 8-bit header octets (RFC 6532 / SMTPUTF8) cannot be downgraded.
#ifndef VOLLEY_ENGINE_MESSAGE_MIME_DOWNGRADE_H_
#define VOLLEY_ENGINE_MESSAGE_MIME_DOWNGRADE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::message {

// Returns the 7-bit form of `content` (a whole RFC 5322 message with CRLF line endings), or an
// InvalidArgument error whose message explains why it cannot be converted (the caller bounces
// with 5.6.3).
//
// - A message without 8-bit octets comes back byte-identical.
// - The MIME structure is walked: multipart/* bodies are split on their boundary (preamble,
//   delimiters and epilogue copied verbatim), message/rfc822 bodies are parsed as messages.
//   Entities without 8-bit octets are copied byte for byte.
// - A leaf entity (or a message without Content-Type, i.e. text/plain) whose body has 8-bit
//   octets and whose Content-Transfer-Encoding is absent, 7bit or 8bit gets a quoted-printable
//   body and "Content-Transfer-Encoding: quoted-printable". binary, base64 or quoted-printable
//   bodies with 8-bit octets, 8-bit octets in any header field, in a preamble or an epilogue are
//   errors.
// - A changed multipart or message/rfc822 entity declared 8bit or binary is relabelled 7bit
//   (RFC 2045 6.4 allows only identity encodings on composite types).
// - A changed message without MIME-Version gets "MIME-Version: 1.0", without which readers
//   need not honour the new Content-Transfer-Encoding (RFC 2045 4). Postfix does not add it.
absl::StatusOr<std::string> DowngradeTo7Bit(absl::string_view content);

// Quoted-printable encoding of `body` (RFC 2045 6.7). CRLF pairs stay hard line breaks; every
// other octet outside 33..126 (bare CR and LF included) and '=' is encoded as =XX, except space
// and tab that are not followed by a line break or the end of `body`. Encoded lines are at most
// 76 characters, broken with soft line breaks ("=" CRLF); a '-' starting the line after a soft
// break is encoded too, so that no new line can look like a boundary delimiter. Decoding gives
// back `body` exactly.
std::string EncodeQuotedPrintable(absl::string_view body);

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_MIME_DOWNGRADE_H_
