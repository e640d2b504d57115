#include "engine/events/log_record.h"

#include "absl/strings/str_cat.h"
#include "engine/base/json.h"
#include "engine/base/logging.h"

namespace volley::events {
namespace {

void AppendResponse(const RecipientEvent& e, JsonObjectWriter& w) {
  const smtp::Reply& reply = *e.reply;
  w.BeginObject("response").Int("code", reply.code);
  if (reply.enhanced) {
    w.BeginObject("enhanced_code")
        .Int("class", reply.enhanced->klass)
        .Int("subject", reply.enhanced->subject)
        .Int("detail", reply.enhanced->detail)
        .EndObject();
  } else {
    w.Null("enhanced_code");
  }
  w.String("content", reply.Text());
  if (e.command) {
    w.String("command", *e.command);
  } else {
    w.Null("command");
  }
  w.EndObject();
}

}  // namespace

void AppendLogRecord(const RecipientEvent& e, std::string* out) {
  JsonObjectWriter w(out);
  w.String("type", EventTypeName(e.type))
      .String("id", e.queue_id)
      .String("sender", e.sender)
      .String("recipient", e.recipient)
      .String("queue", e.domain)
      .String("site", e.site)
      .Uint("size", e.size)
      .Uint("num_attempts", e.num_attempts);
  AppendResponse(e, w);
  if (e.peer_address) {
    w.BeginObject("peer_address")
        .String("name", e.peer_name.value_or(""))
        .String("addr", *e.peer_address)
        .EndObject();
  } else {
    w.Null("peer_address");
  }
  w.String("egress_pool", e.egress_pool).String("egress_source", e.egress_source);
  w.StringOrNull("tls_protocol_version", e.tls_version);
  // The cipher is written exactly when the version is: both or neither.
  if (e.tls_version.empty()) {
    w.Null("tls_cipher");
  } else {
    w.String("tls_cipher", e.tls_cipher);
  }
  if (e.type == EventType::kReception) w.StringOrNull("auth_user", e.auth_user);
  if (e.classification) {
    w.String("bounce_classification", bounce::BounceClassName(*e.classification));
  } else {
    w.Null("bounce_classification");
  }
  if (e.report != nullptr) {
    const ReportDetail& r = *e.report;
    w.BeginObject("report").String("kind", r.kind);
    w.StringOrNull("reason", r.reason);
    w.StringOrNull("mapped_by", r.mapped_by);
    w.Bool("forged", r.forged);
    w.StringOrNull("reporting_mta", r.reporting_mta);
    w.EndObject();
    if (e.type == EventType::kFeedback) {
      // KumoMTA's name for the complaint's fields.
      w.BeginObject("feedback_report").String("feedback_type", r.feedback_type);
      w.StringOrNull("user_agent", r.user_agent);
      w.StringOrNull("source_ip", r.source_ip);
      w.EndObject();
    }
  }
  w.String("message_id", e.message_id);
  w.StringOrNull("tenant", e.tenant);
  w.StringOrNull("campaign", e.campaign);
  w.Uint("priority", e.priority)
      .Int("timestamp", absl::ToUnixSeconds(e.timestamp))
      .String("event_time", Rfc3339(e.timestamp))
      .Int("created", absl::ToUnixSeconds(e.created));
  // Last, as it can be long: the fixed fields keep their place at the front of the line. It is
  // already compact JSON (the injector's adapter made it), so it goes in as it is; KumoMTA writes
  // an object even when there is none.
  DCHECK(e.metadata.empty() || (e.metadata.front() == '{' && e.metadata.back() == '}'))
      << e.metadata;
  w.Raw("meta", e.metadata.empty() ? absl::string_view("{}") : e.metadata);
  w.Finish();
  out->push_back('\n');
}

void AppendSuspensionRecord(const SuspensionEvent& e, std::string* out) {
  JsonObjectWriter w(out);
  w.String("type", "Suspended").String("id", e.id).String("state", e.state);
  w.StringOrNull("ended_by", e.ended_by);
  w.StringOrNull("queue", e.domain);
  w.StringOrNull("site", e.site);
  w.StringOrNull("tenant", e.tenant);
  w.StringOrNull("campaign", e.campaign);
  w.StringOrNull("egress_source", e.source);
  w.String("reason", e.reason)
      .String("origin", e.origin)
      .String("expires", Rfc3339(e.expires))
      .Int("timestamp", absl::ToUnixSeconds(e.timestamp))
      .String("event_time", Rfc3339(e.timestamp));
  w.Finish();
  out->push_back('\n');
}

}  // namespace volley::events
