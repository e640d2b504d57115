#include "engine/http/api/suspend.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/json.h"
#include "engine/http/api/json_error.h"

namespace volley::http::api {
namespace {

HttpResponse Refused(const absl::Status& status) {
  return JsonError(400, status.message(), adaptive::RequestField(status));
}

// The spool could not take the change: nothing changed, and the client may try again.
HttpResponse Unstored(const absl::Status& status) {
  return JsonError(503, absl::StrCat("the suspension could not be stored: ", status.message()));
}

}  // namespace

void RegisterSuspend(Router* router, SuspendBackend backend) {
  router->Add("POST", kSuspendPath, [backend](const HttpRequest& request, Respond respond) {
    absl::StatusOr<adaptive::Suspension> parsed =
        adaptive::ParseSuspendRequest(request.body, backend.clock->Now());
    if (!parsed.ok()) {
      std::move(respond)(Refused(parsed.status()));
      return;
    }
    backend.run_blocking(
        [backend, s = *std::move(parsed)]() mutable {
          absl::StatusOr<adaptive::Suspension> added = backend.store->Add(std::move(s));
          if (!added.ok()) return Unstored(added.status());
          return HttpResponse::Json(
              200, absl::StrCat(adaptive::SuspensionJson(*added, backend.clock->Now()), "\n"));
        },
        std::move(respond));
  });
  router->Add("GET", kSuspendPath, [backend](const HttpRequest&, Respond respond) {
    const absl::Time now = backend.clock->Now();
    std::vector<std::string> listed;
    for (const adaptive::Suspension& s : backend.store->List()) {
      listed.push_back(adaptive::SuspensionJson(s, now));
    }
    std::move(respond)(
        HttpResponse::Json(200, absl::StrCat("[", absl::StrJoin(listed, ","), "]\n")));
  });
  router->Add("DELETE", kSuspendPath, [backend](const HttpRequest& request, Respond respond) {
    absl::StatusOr<std::string> id = adaptive::ParseLiftRequest(request.body);
    if (!id.ok()) {
      std::move(respond)(Refused(id.status()));
      return;
    }
    backend.run_blocking(
        [backend, id = *std::move(id)] {
          const absl::Status lifted = backend.store->Lift(id);
          if (absl::IsNotFound(lifted)) return JsonError(404, lifted.message(), "id");
          if (!lifted.ok()) return Unstored(lifted);
          std::string body;
          JsonObjectWriter(&body).String("id", id).Bool("lifted", true).Finish();
          body.push_back('\n');
          return HttpResponse::Json(200, std::move(body));
        },
        std::move(respond));
  });
}

}  // namespace volley::http::api
