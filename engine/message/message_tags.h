// What a message carries besides its envelope and content: the tenant it is sent for (a
// platform's customer), its campaign, and a delivery priority. This header holds their syntax,
// shared by the injection headers (control_headers.h) and the configuration's defaults, so that
// a value means the same wherever it is written.
#ifndef VOLLEY_ENGINE_MESSAGE_MESSAGE_TAGS_H_
#define VOLLEY_ENGINE_MESSAGE_MESSAGE_TAGS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::message {

// Priorities are 0 to 9, higher goes first; the names stand for these values.
inline constexpr uint8_t kPriorityHigh = 8;
inline constexpr uint8_t kPriorityNormal = 5;
inline constexpr uint8_t kPriorityBulk = 2;
inline constexpr uint8_t kMaxPriority = 9;

// Tenants and campaigns end up in log records and metric labels, so they are short and plain.
inline constexpr size_t kMaxTagLength = 64;

struct MessageTags {
  std::string tenant;    // "" = none
  std::string campaign;  // "" = none
  uint8_t priority = kPriorityNormal;

  friend bool operator==(const MessageTags&, const MessageTags&) = default;
};

// OK when `value` is a tenant or campaign: 1 to 64 characters of A-Z, a-z, 0-9 and . _ : @ + -.
// Otherwise InvalidArgument saying why, with the value quoted (QuoteForMessage). Pure.
absl::Status CheckTag(absl::string_view value);

// "high" (8), "normal" (5), "bulk" (2), in any case, or one digit 0 to 9. Otherwise
// InvalidArgument saying why, with the value quoted. Pure.
absl::StatusOr<uint8_t> ParsePriority(absl::string_view value);

// True for an RFC 5322 field name (3.6.8): one or more printable US-ASCII characters other
// than ':' (33 to 126).
bool IsFieldName(absl::string_view name);

// `value` in double quotes for an error message or an SMTP reply: printable ASCII as it is
// (with '"' and '\' escaped), every other octet as \xNN, and at most kMaxTagLength characters
// of it followed by "..." when it is longer, so that any input gives one short, safe line.
std::string QuoteForMessage(absl::string_view value);

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_MESSAGE_TAGS_H_
