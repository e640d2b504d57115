// Every SMTP reply Volley decides itself, in one table: what the injection server answers, and
// the replies the delivery side makes up for log records and retries when no server reply
// decided an outcome (DNS, expiry, a lost connection, a message the server could not take).
// Reply texts with $0 and $1 take arguments (absl::Substitute).
#ifndef VOLLEY_ENGINE_SMTP_LOCAL_REPLIES_H_
#define VOLLEY_ENGINE_SMTP_LOCAL_REPLIES_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "absl/strings/substitute.h"
#include "absl/types/span.h"
#include "engine/base/logging.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

enum class LocalReply {
  // --- The ESMTP server (injection and the test sinks). ---
  kGreeting,               // 220 $0 ESMTP Volley (hostname)
  kHeloOk,                 // 250 $0 (hostname)
  kOk,                     // 250 2.0.0 Ok (RSET, NOOP)
  kSenderOk,               // 250 2.1.0
  kRecipientOk,            // 250 2.1.5
  kChunkOk,                // 250 2.0.0 ... $0 octets received
  kQueued,                 // 250 2.0.0 OK <$0> (queue id)
  kDataGoAhead,            // 354
  kAuthChallenge,          // 334 $0 (a SASL challenge, base64; see SaslChallenge::ToWire)
  kStartTlsGoAhead,        // 220 2.0.0
  kAuthOk,                 // 235 2.7.0
  kBye,                    // 221 2.0.0
  kCannotVrfy,             // 252 2.5.0
  kHelp,                   // 214 2.0.0
  kShuttingDown,           // 421 4.3.2 ($0 hostname)
  kTooManyConnections,     // 421 4.3.2 ($0 hostname)
  kIdleTimeout,            // 421 4.4.2 ($0 hostname)
  kTooManyErrors,          // 421 4.7.0 ($0 hostname)
  kSpoolUnavailable,       // 421 4.3.2: the spool writer has stopped
  kSpoolFull,              // 452 4.3.1
  kInternalError,          // 451 4.3.0
  kTooManyRecipients,      // 452 4.5.3
  kUnknownCommand,         // 500 5.5.2
  kLineTooLong,            // 500 5.5.6
  kParameterSyntax,        // 501 5.5.4
  kBadSizeValue,           // 501 5.5.4
  kCommandUsage,           // 501 5.5.4 Syntax: $0
  kNoArguments,            // 501 5.5.4
  kArgumentRequired,       // 501 5.5.4
  kBadSenderAddress,       // 501 5.1.7
  kBadRecipientAddress,    // 501 5.1.3
  kBadSizeParameter,       // 501 5.5.4
  kBadBodyParameter,       // 501 5.5.4
  kSmtputf8Value,          // 501 5.5.4
  kBadRetParameter,        // 501 5.5.4
  kBadEnvidParameter,      // 501 5.5.4
  kBadNotifyParameter,     // 501 5.5.4
  kBadOrcptParameter,      // 501 5.5.4
  kRepeatedParameter,      // 501 5.5.4
  kBdatSyntax,             // 501 5.5.4
  kAuthSyntax,             // 501 5.5.4
  kAuthAborted,            // 501 5.7.0
  kAuthBadBase64,          // 501 5.5.2
  kAuthBadPlain,           // 501 5.5.2
  kNotImplemented,         // 502 5.5.1
  kNoService,              // 503 5.5.1 (after a 5xx greeting)
  kNeedHelo,               // 503 5.5.1
  kNestedMail,             // 503 5.5.1
  kNeedMail,               // 503 5.5.1
  kNeedRcpt,               // 503 5.5.1
  kDataAfterBdat,          // 503 5.5.1
  kTlsActive,              // 503 5.5.1
  kStartTlsInTransaction,  // 503 5.5.1
  kNeedEhlo,               // 503 5.5.1
  kAlreadyAuthenticated,   // 503 5.5.1
  kAuthInTransaction,      // 503 5.5.1
  kAuthMechanism,          // 504 5.5.4
  kAuthRequired,           // 530 5.7.0
  kAuthInvalid,            // 535 5.7.8
  kEncryptionRequired,     // 538 5.7.11
  kRelayDenied,            // 550 5.7.1 ($0 client address)
  kRecipientNeedsDomain,   // 550 5.1.3
  kBadControlHeader,       // 550 5.6.0 ($0 the header and what is wrong with its value)
  kMessageTooBig,          // 552 5.3.4
  kNoValidRecipients,      // 554 5.5.1
  kAllSuppressed,          // 554 5.7.1: every recipient is on the suppression list
  kSuppressedRecipient,    // 550 5.7.1 ($0 recipient, $1 the entry's reason): a Suppressed record
  kUnsupportedParameter,   // 555 5.5.4 ($0 keyword)
  kParametersNeedEhlo,     // 555 5.5.4
  // --- Delivery: outcomes no server reply decided. ---
  kDnsFailed,            // 451 4.4.3 ($0 domain, $1 error)
  kNoAddress,            // 451 4.4.4 ($0 domain)
  kNoSuchDomain,         // 550 5.1.2 ($0 domain)
  kNoMxNoAddress,        // 550 5.1.2 ($0 domain)
  kNullMx,               // 556 5.1.10 ($0 domain)
  kNoAnswer,             // 451 4.4.1 ($0 why)
  kConnectionLost,       // 451 4.4.2 ($0 why)
  kSessionFailed,        // 451 4.5.0 ($0 why)
  kNoReplyForRecipient,  // 451 4.3.0
  kSpoolReadFailed,      // 451 4.3.0 ($0 error)
  kExpired,              // 451 4.4.7
  kExpiredAfterError,    // 451 4.4.7 ($0 last error)
  kExpiredBounce,        // 551 5.4.7 ($0 attempts, $1 last error)
  kNeedsSmtputf8,        // 553 5.6.7
  kCannotDowngrade,      // 554 5.6.3 ($0 why)
  kTooBigForServer,      // 552 5.3.4 ($0 size, $1 the server's limit)
  // Submission limits (the injection listener's protection).
  kDataTooSlow,         // 421 4.4.2 ($0 hostname)
  kSessionTimeout,      // 421 4.4.2 ($0 hostname)
  kIpConnectionLimit,   // 421 4.7.0 ($0 hostname, $1 client address)
  kIpConnectionRate,    // 421 4.7.0 ($0 hostname, $1 client address)
  kBackpressure,        // 421 4.3.2 ($0 hostname)
  kMemoryFull,          // 452 4.3.1
  kUserRateLimit,       // 451 4.7.1 ($0 user)
  kStartTlsFirst,       // 530 5.7.0
  kNonAsciiAddress,     // 553 5.6.7
  kInvisibleInAddress,  // 553 5.1.3 ($0 the code point, "U+200B")
  kMalformedDomain,     // 501 5.1.2 ($0 what is wrong)
};

struct LocalReplySpec {
  LocalReply id;
  int code;
  absl::string_view enhanced;  // "" for replies without one (greeting, HELO, 354)
  absl::string_view text;      // with $0, $1 for the arguments
  int arguments;
};

// The whole table, in LocalReply order.
absl::Span<const LocalReplySpec> LocalReplies();
const LocalReplySpec& LocalReplySpecOf(LocalReply id);

// The reply `id`, its text filled with `args` (strings or numbers, as absl::Substitute takes).
template <typename... Args>
Reply MakeLocalReply(LocalReply id, const Args&... args) {
  const LocalReplySpec& spec = LocalReplySpecOf(id);
  DCHECK(spec.arguments == static_cast<int>(sizeof...(Args)))
      << "local reply " << spec.code << " " << spec.text << " takes " << spec.arguments
      << " arguments";
  if constexpr (sizeof...(Args) == 0) {
    return MakeReply(spec.code, spec.enhanced, spec.text);
  } else {
    return MakeReply(spec.code, spec.enhanced, absl::Substitute(spec.text, args...));
  }
}

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_LOCAL_REPLIES_H_
