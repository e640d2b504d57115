// Checks of envelope addresses beyond their syntax (command_parser.h), for a server that takes
// mail from applications: addresses that would be delivered wrongly or not at all, and that
// look right to whoever reads them (KumoMTA issue 416: a zero-width space in a recipient lost
// mail silently). Refused at RCPT (and MAIL) with a reply that says what is wrong.
#ifndef VOLLEY_ENGINE_SMTP_ADDRESS_CHECK_H_
#define VOLLEY_ENGINE_SMTP_ADDRESS_CHECK_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

// Whether `code_point` renders as nothing (or as blank) and must not be part of an address:
// the zero-width characters, bidirectional controls, the soft hyphen, the BOM, fillers.
bool IsInvisibleCodePoint(uint32_t code_point);

// nullopt when `address` (syntactically valid, as the parser took it; "" is the null sender)
// may be used, else the refusal:
//   553 5.6.7  non-ASCII without SMTPUTF8 on MAIL (RFC 6531 3.4)
//   553 5.1.3  an invisible character, or a control character, anywhere in it
//   501 5.1.2  a domain without a dot, a numeric top-level label, or a non-ASCII domain that
//              is not a valid IDNA2008 name (it could never be looked up)
std::optional<Reply> CheckEnvelopeAddress(absl::string_view address, bool smtputf8);

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_ADDRESS_CHECK_H_
