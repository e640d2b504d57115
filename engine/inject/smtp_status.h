// The one table from an injection Status (injector.h) to the SMTP reply the client gets.
#ifndef VOLLEY_ENGINE_INJECT_SMTP_STATUS_H_
#define VOLLEY_ENGINE_INJECT_SMTP_STATUS_H_

#include "absl/status/status.h"
#include "engine/smtp/reply.h"

namespace volley::inject {

// kResourceExhausted: 452 4.3.1 (nothing kept; try again later); kUnavailable: 421 4.3.2 (the
// spool has stopped; the session closes after it, RFC 5321 3.8); kPermissionDenied: 550 5.7.1
// relay denied for the client named in the message; kInvalidArgument: 550 5.1.3;
// kFailedPrecondition: 554 5.7.1 (every recipient suppressed); anything else 451 4.3.0. Pure;
// any thread.
smtp::Reply SmtpReplyFor(const absl::Status& status);

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_SMTP_STATUS_H_
