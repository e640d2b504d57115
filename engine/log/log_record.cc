#include "engine/log/log_record.h"

#include "absl/strings/str_cat.h"
#include "engine/log/json.h"

namespace volley {

absl::string_view RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kReception:
      return "Reception";
    case RecordType::kDelivery:
      return "Delivery";
    case RecordType::kTransientFailure:
      return "TransientFailure";
    case RecordType::kBounce:
      return "Bounce";
    case RecordType::kExpiration:
      return "Expiration";
  }
  return "Unknown";
}

void AppendLogRecord(const LogRecord& r, std::string* out) {
  JsonObjectWriter w(out);
  w.String("type", RecordTypeName(r.type))
      .String("id", r.id)
      .String("sender", r.sender)
      .String("recipient", r.recipient)
      .String("queue", r.queue)
      .String("site", r.site)
      .Uint("size", r.size)
      .Uint("num_attempts", r.num_attempts);
  w.BeginObject("response").Int("code", r.code);
  if (r.enhanced) {
    w.BeginObject("enhanced_code")
        .Int("class", r.enhanced->klass)
        .Int("subject", r.enhanced->subject)
        .Int("detail", r.enhanced->detail)
        .EndObject();
  } else {
    w.Null("enhanced_code");
  }
  w.String("content", r.content);
  if (r.command) {
    w.String("command", *r.command);
  } else {
    w.Null("command");
  }
  w.EndObject();
  if (r.peer_addr) {
    w.BeginObject("peer_address")
        .String("name", r.peer_name.value_or(""))
        .String("addr", *r.peer_addr)
        .EndObject();
  } else {
    w.Null("peer_address");
  }
  w.String("egress_pool", r.egress_pool).String("egress_source", r.egress_source);
  if (r.tls_protocol_version) {
    w.String("tls_protocol_version", *r.tls_protocol_version);
  } else {
    w.Null("tls_protocol_version");
  }
  if (r.tls_cipher) {
    w.String("tls_cipher", *r.tls_cipher);
  } else {
    w.Null("tls_cipher");
  }
  if (r.bounce_classification.empty()) {
    w.Null("bounce_classification");
  } else {
    w.String("bounce_classification", r.bounce_classification);
  }
  w.String("message_id", r.message_id)
      .Int("timestamp", absl::ToUnixSeconds(r.timestamp))
      .String("event_time",
              absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", r.timestamp, absl::UTCTimeZone()))
      .Int("created", absl::ToUnixSeconds(r.created));
  w.Finish();
  out->push_back('\n');
}

}  // namespace volley
