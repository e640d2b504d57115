// The delivery log's record: one JSON object per line, fields as in KumoMTA's log record
// (README, "Delivery log"). The one place an event becomes its log form.
#ifndef VOLLEY_ENGINE_EVENTS_LOG_RECORD_H_
#define VOLLEY_ENGINE_EVENTS_LOG_RECORD_H_

#include <string>

#include "engine/events/event.h"

namespace volley::events {

// Appends the event as one JSON object followed by '\n'. Pure; any thread. The event's metadata
// goes in unchecked as "meta" ("{}" for none): it must be a valid JSON object.
void AppendLogRecord(const RecipientEvent& event, std::string* out);
// A "Suspended" record: {"type": "Suspended", "id": <the suspension's id>, "state": "begin" |
// "extended" | "end", "ended_by": "lifted" | "expired" | null, "queue" (the domain), "site",
// "tenant", "campaign", "egress_source" (each null when the suspension does not name one),
// "reason", "origin", "expires", "timestamp", "event_time"}.
void AppendSuspensionRecord(const SuspensionEvent& event, std::string* out);

}  // namespace volley::events

#endif  // VOLLEY_ENGINE_EVENTS_LOG_RECORD_H_
