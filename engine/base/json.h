// Just enough JSON output for log records and the HTTP API: string escaping and a small
// streaming object writer. (No DOM: records are written once, straight into a line buffer.)
#ifndef VOLLEY_ENGINE_BASE_JSON_H_
#define VOLLEY_ENGINE_BASE_JSON_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley {

// Appends `text` as a JSON string literal (with quotes). Invalid UTF-8 bytes are replaced by
// U+FFFD so that the output is always valid JSON.
void AppendJsonString(std::string* out, absl::string_view text);

// `t` as RFC 3339 in UTC with microseconds ("2026-12-03T19:29:42.000000Z"), as log records and
// the API write times.
std::string Rfc3339(absl::Time t);
// Reads what Rfc3339 writes, and any RFC 3339 time with an offset.
bool ParseRfc3339(absl::string_view text, absl::Time* t);

// Writes {"k": v, ...} with correct commas. Nested objects via BeginObject/EndObject.
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }

  JsonObjectWriter& String(absl::string_view key, absl::string_view value);
  JsonObjectWriter& Int(absl::string_view key, int64_t value);
  JsonObjectWriter& Uint(absl::string_view key, uint64_t value);
  JsonObjectWriter& Double(absl::string_view key, double value);
  JsonObjectWriter& Bool(absl::string_view key, bool value);
  JsonObjectWriter& Null(absl::string_view key);
  // `value`, or null when it is empty (an optional field: a tenant, a domain).
  JsonObjectWriter& StringOrNull(absl::string_view key, absl::string_view value);
  // `t` as Rfc3339, or null when it is infinite (absl::InfiniteFuture: never, no expiry;
  // absl::InfinitePast: not yet, no change so far).
  JsonObjectWriter& TimeOrNull(absl::string_view key, absl::Time t);
  // Appends `json` verbatim as the value (it must be valid JSON).
  JsonObjectWriter& Raw(absl::string_view key, absl::string_view json);
  JsonObjectWriter& BeginObject(absl::string_view key);
  JsonObjectWriter& EndObject();
  // Closes the outermost object.
  void Finish() { out_->push_back('}'); }

 private:
  void Key(absl::string_view key);
  std::string* out_;
  bool first_ = true;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_JSON_H_
