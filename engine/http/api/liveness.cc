#include "engine/http/api/liveness.h"

#include <utility>

namespace volley::http::api {

void RegisterLiveness(Router* router) {
  router->Add("GET", kLivenessPath, [](const HttpRequest&, Respond respond) {
    std::move(respond)(HttpResponse::Text(200, "OK\n"));
  });
}

}  // namespace volley::http::api
