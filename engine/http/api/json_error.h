// The API's error answer: {"error": "...", "field": "..."} (field only when the error is about
// one field of the request).
#ifndef VOLLEY_ENGINE_HTTP_API_JSON_ERROR_H_
#define VOLLEY_ENGINE_HTTP_API_JSON_ERROR_H_

#include "absl/strings/string_view.h"
#include "engine/http/http_message.h"

namespace volley::http::api {

HttpResponse JsonError(int status, absl::string_view message, absl::string_view field = "");

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_JSON_ERROR_H_
