// Validation of the ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.1.11): SIZE (RFC 1870),
// BODY (RFC 6152), SMTPUTF8 (RFC 6531) and the DSN parameters RET, ENVID, NOTIFY and ORCPT
// (RFC 3461, with RFC 6533's utf-8 address form). Pure, any thread: no I/O and no session
// state, so that every rule can be tested on its own; MailTransaction decides sequence and
// limits.
#ifndef VOLLEY_ENGINE_SMTP_ESMTP_PARAMS_H_
#define VOLLEY_ENGINE_SMTP_ESMTP_PARAMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/types/span.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

// A parameter list as ParseCommand gives it: keywords upper-cased, values as sent ("" when
// the parameter has no "=value"), in order.
using EsmtpParam = std::pair<std::string, std::string>;

// The extensions the server offers whose parameters MAIL and RCPT may carry. A parameter of an
// extension not offered is as unknown as any other (555). SIZE and BODY=7BIT are always taken.
struct OfferedExtensions {
  bool eightbitmime = true;  // BODY=8BITMIME
  bool smtputf8 = true;      // SMTPUTF8
  bool dsn = true;           // RET, ENVID (MAIL); NOTIFY, ORCPT (RCPT)
};

// What an accepted MAIL parameter list asks of the transaction.
struct MailParamEffects {
  uint64_t size_hint = 0;  // SIZE=, 0 when not given (the caller applies its own limit)
  bool smtputf8 = false;   // SMTPUTF8 was given
  friend bool operator==(const MailParamEffects&, const MailParamEffects&) = default;
};

// The rules for a MAIL or RCPT parameter list as a whole: parameters need EHLO (`esmtp`;
// after HELO any parameter gets 555 5.5.4), and each keyword may appear once (501 5.5.4).
// Returns the reply that refuses the list, nullopt when it passes.
std::optional<Reply> CheckParameterList(absl::Span<const EsmtpParam> params, bool esmtp);

// Each MAIL parameter, in order; the first one refused decides the reply: 501 5.5.4 for a bad
// value (SIZE not a number, BODY other than 7BIT/8BITMIME/BINARYMIME, SMTPUTF8 with a value, RET
// other than FULL/HDRS, ENVID empty, over 100 octets or not xtext), 555 5.5.4 for an unknown
// keyword, an extension not offered, or BODY=BINARYMIME (never offered: Volley keeps messages
// as text and may relay them with DATA). Keywords are compared as given (ParseCommand
// upper-cases them), values case-insensitively. Call it after CheckParameterList: a repeated
// keyword is not refused here.
std::variant<MailParamEffects, Reply> CheckMailParams(absl::Span<const EsmtpParam> params,
                                                      const OfferedExtensions& offered);

// Each RCPT parameter, in order: NOTIFY=NEVER or a list of SUCCESS, FAILURE and DELAY without
// repeats; ORCPT=addr-type;xtext (at most 500 octets; "utf-8" addresses may hold UTF-8 and
// "\x{HEX}"). 501 5.5.4 for a bad value, 555 5.5.4 for an unknown keyword or DSN not offered.
// Returns the refusing reply, nullopt when every parameter is accepted. Call it after
// CheckParameterList.
std::optional<Reply> CheckRcptParams(absl::Span<const EsmtpParam> params,
                                     const OfferedExtensions& offered);

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_ESMTP_PARAMS_H_
