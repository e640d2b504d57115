// Reading the JSON bodies of API requests: an object, its known fields, string fields, and
// errors that name the field they are about (answered as 400 {"error", "field"}).
#ifndef VOLLEY_ENGINE_BASE_JSON_REQUEST_H_
#define VOLLEY_ENGINE_BASE_JSON_REQUEST_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace volley {

// InvalidArgument "field: message" (just `message` for the body as a whole), carrying the
// field for FieldOf.
absl::Status FieldError(absl::string_view field, absl::string_view message);
// The field an error of the functions here is about ("" for the body or any other error).
std::string FieldOf(const absl::Status& status);

// The body as a JSON object.
absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view body);
// An error for the first field of `j` that `known` does not list.
absl::Status CheckKnownFields(const nlohmann::json& j, const std::vector<std::string>& known);
// The string field `key`: absent or null is "", anything but a string an error.
absl::StatusOr<std::string> OptionalString(const nlohmann::json& j, const char* key);

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_JSON_REQUEST_H_
