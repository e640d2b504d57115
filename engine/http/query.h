// The parameters of a request's query string (application/x-www-form-urlencoded, as browsers
// and curl --data-urlencode write them).
#ifndef VOLLEY_ENGINE_HTTP_QUERY_H_
#define VOLLEY_ENGINE_HTTP_QUERY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::http {

// The first value of parameter `name` in `query` (the text after '?'), percent-decoded with '+'
// as a space; nullopt when the parameter is absent. A malformed escape ("%G1", a '%' at the
// end) is an InvalidArgument error naming the parameter.
absl::StatusOr<std::optional<std::string>> QueryParam(absl::string_view query,
                                                      absl::string_view name);

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_QUERY_H_
