#include "engine/http/api/metrics.h"

#include <utility>

namespace volley::http::api {

void RegisterMetrics(Router* router, Scrape scrape) {
  router->Add("GET", kMetricsPath, [scrape](const HttpRequest&, Respond respond) {
    scrape([respond = std::move(respond)](std::string text) mutable {
      HttpResponse response = HttpResponse::Text(200, std::move(text));
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      std::move(respond)(std::move(response));
    });
  });
}

}  // namespace volley::http::api
