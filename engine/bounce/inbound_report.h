// Reports that come back after delivery: asynchronous DSNs (RFC 3464) and ARF complaints
// (RFC 5965), read with GMime 3. They are mail from strangers: anything (malformed MIME, a DSN
// without its delivery-status part, NUL octets, a 10 MB attachment) gives a report of kind
// kUnparsed with the reason, never a crash. Pure apart from GMime's one-time initialisation;
// any thread (each call has its own parser and objects).
#ifndef VOLLEY_ENGINE_BOUNCE_INBOUND_REPORT_H_
#define VOLLEY_ENGINE_BOUNCE_INBOUND_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace volley::bounce {

// One per-recipient group of a delivery-status part.
struct ReportedRecipient {
  std::string address;     // Final-Recipient's address (its type, "rfc822;", removed)
  std::string original;    // Original-Recipient's address, "" when absent
  std::string action;      // lower-case: failed, delayed, delivered, relayed, expanded
  std::string status;      // "5.1.1"
  std::string diagnostic;  // Diagnostic-Code without its type: "550 5.1.1 No such user"
  std::string remote_mta;  // Remote-MTA without its type
};

struct InboundReport {
  enum class Kind { kDsn, kFeedback, kUnparsed };
  Kind kind = Kind::kUnparsed;
  std::string unparsed_reason;  // kUnparsed: why

  // kDsn: the per-message fields and the recipients.
  std::string reporting_mta;
  std::string original_envelope_id;
  std::vector<ReportedRecipient> recipients;

  // kFeedback: the feedback-report part's fields.
  std::string feedback_type;  // lower-case: abuse, fraud, virus, other, not-spam, ...
  std::string user_agent;
  std::string source_ip;
  std::string original_mail_from;
  std::vector<std::string> original_rcpt_to;  // each Original-Rcpt-To, angle brackets removed

  // Both: the returned original (message/rfc822 or text/rfc822-headers), when there is one.
  std::vector<std::pair<std::string, std::string>> original_headers;  // in order, decoded

  // The first value of a returned header, case-insensitive; "" when absent.
  std::string OriginalHeader(absl::string_view name) const;
};

// Reads `message` (the whole inbound message, CRLF or LF line endings).
InboundReport ParseInboundReport(absl::string_view message);

absl::string_view InboundKindName(InboundReport::Kind kind);  // "dsn", "feedback", "unparsed"

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_INBOUND_REPORT_H_
