// The delivery log's record: one JSON object per line, fields as in KumoMTA's log record
// (README, "Delivery log"). The one place an event becomes its log form.
#ifndef VOLLEY_ENGINE_EVENTS_LOG_RECORD_H_
#define VOLLEY_ENGINE_EVENTS_LOG_RECORD_H_

#include <string>

#include "engine/events/event.h"

namespace volley::events {

// Appends the event as one JSON object followed by '\n'. Pure; any thread.
void AppendLogRecord(const RecipientEvent& event, std::string* out);

}  // namespace volley::events

#endif  // VOLLEY_ENGINE_EVENTS_LOG_RECORD_H_
