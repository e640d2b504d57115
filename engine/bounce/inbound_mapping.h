// Which message and recipient an inbound report is about, and what it says of them. The
// original is found by, in order: the VERP address it came to (engine/bounce/verp.h; a bad
// signature marks the report forged, and nothing of it is trusted), the DSN's
// Original-Envelope-Id or the returned Message-ID when they are a Volley queue id (Volley's own
// Message-IDs are "<queue id@hostname>"), and Volley's Received header among the returned
// headers ("by HOST (Volley) id QUEUEID"). Pure, any thread.
#ifndef VOLLEY_ENGINE_BOUNCE_INBOUND_MAPPING_H_
#define VOLLEY_ENGINE_BOUNCE_INBOUND_MAPPING_H_

#include <string>
#include <vector>

#include "engine/bounce/inbound_report.h"
#include "engine/bounce/verp.h"

namespace volley::bounce {

// One record to write: an OOB (a DSN's recipient, or the whole unparsed message) or a Feedback.
struct InboundOutcome {
  bool feedback = false;
  std::string queue_id;   // the original's, "" when not found
  std::string recipient;  // the original recipient, "" when not known
  std::string mapped_by;  // "verp", "envid", "message-id", "received", ""
  bool forged = false;
  // The reply for the record: the Diagnostic-Code when it is an SMTP reply, else made from
  // the Status (550/450 and the code); a Feedback: "Feedback-Type: abuse".
  int code = 550;
  std::string enhanced;  // "5.1.1", "" for none
  std::string text;
  bool permanent = false;  // a DSN's Action: failed with a 5.x.x Status
};

// `envelope_recipients`: the RCPT TO addresses the report came to. `verp` may be null.
std::vector<InboundOutcome> MapInbound(const InboundReport& report,
                                       const std::vector<std::string>& envelope_recipients,
                                       const VerpCodec* verp);

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_INBOUND_MAPPING_H_
