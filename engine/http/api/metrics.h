// GET /metrics: the Prometheus text exposition (format 0.0.4).
#ifndef VOLLEY_ENGINE_HTTP_API_METRICS_H_
#define VOLLEY_ENGINE_HTTP_API_METRICS_H_

#include <functional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/http/router.h"

namespace volley::http::api {

inline constexpr absl::string_view kMetricsPath = "/metrics";

// Produces the exposition text, now or later (the engine gathers each shard's part on its own
// loop first), by calling `reply` once on the router's thread.
using Scrape = std::function<void(absl::AnyInvocable<void(std::string text)> reply)>;

// Routes GET kMetricsPath to `scrape`. Call on the router's thread.
void RegisterMetrics(Router* router, Scrape scrape);

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_METRICS_H_
