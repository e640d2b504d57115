// GET /api/admin/explain/v1?site=NAME: for each queue of the site (named as log records name
// sites, e.g. "mx1.example.com,mx2.example.com" or "route:10.0.0.5:25", or by its queue key),
// the limits in force per egress source, the tables they came from, and the limit that holds
// it back now (delivery/site_explain.h has the object). 400 without a site, 404 when no queue
// of that site is in memory (none has had mail in the last minutes).
#ifndef VOLLEY_ENGINE_HTTP_API_EXPLAIN_H_
#define VOLLEY_ENGINE_HTTP_API_EXPLAIN_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/http/router.h"

namespace volley::http::api {

inline constexpr absl::string_view kExplainPath = "/api/admin/explain/v1";

// Finds the queues of `site` (on every shard, now or later) and calls `reply` once on the
// router's thread with one JSON object per queue.
using ExplainSite = std::function<void(
    std::string site, absl::AnyInvocable<void(std::vector<std::string> queues)> reply)>;

// Routes GET kExplainPath to `explain`. Call on the router's thread.
void RegisterExplain(Router* router, ExplainSite explain);

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_EXPLAIN_H_
