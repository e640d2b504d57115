// The events of a message's life, one per recipient and state change, as the delivery log
// records them. The Injector and the OutcomeRecorder emit them; the delivery log and the
// metrics subscribe (suppression, DSNs and webhooks will too).
#ifndef VOLLEY_ENGINE_EVENTS_EVENT_H_
#define VOLLEY_ENGINE_EVENTS_EVENT_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/bounce/bounce_class.h"
#include "engine/message/message_tags.h"
#include "engine/smtp/reply.h"

namespace volley::events {

enum class EventType {
  kReception,
  kDelivery,
  kTransientFailure,
  kBounce,
  kExpiration,
  // A recipient left out at injection: the suppression list has it (engine/bounce).
  kSuppressed,
  // Reports that came back later (engine/inject/bounce_intake.h): an asynchronous DSN (or mail
  // to the bounce domain that could not be read as one), and an ARF complaint.
  kOob,
  kFeedback,
  // A recipient unsubscribed with an RFC 8058 one-click link (engine/http/api/unsubscribe.h):
  // no message, the recipient, tenant and campaign the link was made for.
  kUnsubscribe,
};

// What an OOB or Feedback record says of the report it came from.
struct ReportDetail {
  absl::string_view kind;       // "dsn", "feedback" or "unparsed"
  absl::string_view reason;     // unparsed: why
  absl::string_view mapped_by;  // "verp", "envid", "message-id", "received"; "" for none
  bool forged = false;          // a VERP address whose signature did not match
  absl::string_view reporting_mta;
  absl::string_view feedback_type;  // Feedback: abuse, fraud, ...
  absl::string_view user_agent;
  absl::string_view source_ip;
};

// "Reception", "Delivery", ... (the log record's "type").
absl::string_view EventTypeName(EventType type);

// One recipient's event. The views point into the emitter's objects and are valid only during
// EventSink::OnEvent: a sink copies what it keeps.
struct RecipientEvent {
  EventType type = EventType::kReception;
  absl::string_view queue_id;
  absl::string_view sender;
  absl::string_view recipient;
  absl::string_view domain;  // the log record's "queue"
  absl::string_view site;
  uint64_t size = 0;
  uint32_t num_attempts = 0;
  // The reply that decided the event: the remote server's, or one of Volley's own
  // (smtp/local_replies.h; Reception: our 250). Never null.
  const smtp::Reply* reply = nullptr;
  // The reply came from the remote server (volley_smtp_replies_total counts those).
  bool remote_reply = false;
  std::optional<absl::string_view> command;  // what the reply answered, when there was one
  std::optional<absl::string_view> peer_name;
  std::optional<absl::string_view> peer_address;
  absl::string_view egress_pool;
  absl::string_view egress_source;
  absl::string_view tls_version;  // "" without TLS
  absl::string_view tls_cipher;
  // Reception: the injecting client's AUTH identity ("" for none; null in the record).
  absl::string_view auth_user;
  std::optional<bounce::BounceClass> classification;  // Bounce, TransientFailure, Expiration
  // The Bounce that ends an expired recipient, right after its Expiration.
  bool expired = false;
  // OOB and Feedback: the report (null otherwise).
  const ReportDetail* report = nullptr;
  absl::string_view message_id;
  absl::string_view tenant;    // "" = none (null in the log record)
  absl::string_view campaign;  // "" = none
  uint8_t priority = message::kPriorityNormal;
  // The message's metadata, compact JSON text written into the record as it is (the log record's
  // "meta"; "{}" when empty).
  absl::string_view metadata;  // a JSON object, "" = none
  absl::Time timestamp = absl::UnixEpoch();
  absl::Time created = absl::UnixEpoch();
};

// A message accepted and made durable (before its recipients' Reception events).
struct MessageReceived {
  absl::string_view listener;  // "smtp"
  uint64_t recipients = 0;
};

// A suspension began or ended (adaptive/suspension.h): the delivery log's "Suspended" record.
// The views are valid only during the call.
struct SuspensionEvent {
  absl::string_view state;     // "begin", "extended" (a rule fired again) or "end"
  absl::string_view ended_by;  // "lifted" or "expired" when it ends, else ""
  absl::string_view id;
  absl::string_view domain;  // "" = any (null in the record), as the four below
  absl::string_view site;
  absl::string_view tenant;
  absl::string_view campaign;
  absl::string_view source;
  absl::string_view reason;
  absl::string_view origin;
  absl::Time expires = absl::UnixEpoch();
  absl::Time timestamp = absl::UnixEpoch();
};

// Receives events on the emitting thread (a shard's loop, in the order they happened for each
// recipient). Implementations must not block and must be safe to call from every shard at once.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnEvent(const RecipientEvent& event) = 0;
  virtual void OnMessageReceived(const MessageReceived& message) { (void)message; }
  virtual void OnSuspension(const SuspensionEvent& event) { (void)event; }
};

}  // namespace volley::events

#endif  // VOLLEY_ENGINE_EVENTS_EVENT_H_
