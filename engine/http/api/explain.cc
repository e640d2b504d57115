#include "engine/http/api/explain.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/json.h"
#include "engine/http/api/json_error.h"
#include "engine/http/query.h"

namespace volley::http::api {

void RegisterExplain(Router* router, ExplainSite explain) {
  router->Add("GET", kExplainPath, [explain](const HttpRequest& request, Respond respond) {
    absl::StatusOr<std::optional<std::string>> site = QueryParam(request.query, "site");
    if (!site.ok()) {
      std::move(respond)(JsonError(400, site.status().message()));
      return;
    }
    if (!site->has_value() || (*site)->empty()) {
      std::move(respond)(JsonError(400, "query parameter 'site' is required"));
      return;
    }
    std::string name = **site;
    explain(name, [name, respond = std::move(respond)](std::vector<std::string> queues) mutable {
      if (queues.empty()) {
        std::move(respond)(JsonError(
            404,
            absl::StrCat("no queue of site \"", name,
                         "\" in memory (sites are named as in log records, or by queue key)")));
        return;
      }
      std::string body;
      JsonObjectWriter(&body)
          .String("site", name)
          .Raw("queues", absl::StrCat("[", absl::StrJoin(queues, ","), "]"))
          .Finish();
      body.push_back('\n');
      std::move(respond)(HttpResponse::Json(200, std::move(body)));
    });
  });
}

}  // namespace volley::http::api
