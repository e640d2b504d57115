// Delivery status notifications as RFC 3464 writes them: a multipart/report (RFC 6522) with a
// human-readable part, the machine-readable message/delivery-status part (per-message fields,
// then one group of fields per recipient), and the original message (RET=FULL) or its header
// section. Pure: no I/O, any thread. Who gets one and when is engine/delivery/delivery_notices.h.
#ifndef VOLLEY_ENGINE_BOUNCE_DSN_REPORT_H_
#define VOLLEY_ENGINE_BOUNCE_DSN_REPORT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::bounce {

// RFC 3464 2.3.3: what became of a recipient.
enum class DsnAction { kFailed, kDelayed, kRelayed };

absl::string_view DsnActionName(DsnAction action);  // "failed", "delayed", "relayed"

struct DsnRecipient {
  std::string address;  // the Final-Recipient
  std::string orcpt;    // RFC 3461 ORCPT as received ("rfc822;a+2Bb@x"), "" for none
  DsnAction action = DsnAction::kFailed;
  std::string status;      // RFC 3463 code, "5.1.1"
  std::string remote_mta;  // the server's name ("" when no server was reached)
  // The server's reply, "550 5.1.1 No such user" (the Diagnostic-Code, smtp type); "" for none.
  std::string diagnostic;
  // What went wrong in words, for the human-readable part (the reply when there is one).
  std::string explanation;
  absl::Time last_attempt = absl::InfinitePast();  // InfinitePast: not written
};

struct DsnReport {
  std::string reporting_mta;  // our host name ([server] hostname)
  std::string to;             // the original envelope sender, the notice's recipient
  std::string queue_id;       // of the original message (X-Volley-Queue-ID)
  std::string envid;          // RFC 3461 ENVID as received (xtext), "" for none
  absl::Time arrival;         // when the original message was received
  absl::Time now;             // the notice's Date
  // For delayed recipients: how long Volley keeps trying (InfinitePast: not written).
  absl::Time will_retry_until = absl::InfinitePast();
  // RET=FULL: the whole original message goes back; otherwise its header section only.
  bool return_full = false;
  absl::string_view original;  // the original message as stored
  std::vector<DsnRecipient> recipients;
};

// The notice as an RFC 5322 message with CRLF line endings: From MAILER-DAEMON, To the sender,
// Date, Subject by the gravest action, Auto-Submitted (RFC 3834), MIME-Version, and the report.
// No Message-ID: injection adds one, as for any message. Addresses with UTF-8 are written with
// RFC 6533's utf-8 type, in a message/global-delivery-status part.
std::string BuildDsn(const DsnReport& report);

// RFC 3461 4: xtext ("a+2Bb") decoded ("a+b"); with a malformed "+XX", the value as written.
std::string DecodeXtext(absl::string_view xtext);

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_DSN_REPORT_H_
