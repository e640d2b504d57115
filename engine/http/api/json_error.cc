#include "engine/http/api/json_error.h"

#include <string>
#include <utility>

#include "engine/base/json.h"

namespace volley::http::api {

HttpResponse JsonError(int status, absl::string_view message, absl::string_view field) {
  std::string body;
  JsonObjectWriter w(&body);
  w.String("error", message);
  if (!field.empty()) w.String("field", field);
  w.Finish();
  body.push_back('\n');
  return HttpResponse::Json(status, std::move(body));
}

}  // namespace volley::http::api
