// GET /api/check-liveness/v1: the answer a load balancer or supervisor polls to learn that
// volleyd's HTTP loop is turning.
#ifndef VOLLEY_ENGINE_HTTP_API_LIVENESS_H_
#define VOLLEY_ENGINE_HTTP_API_LIVENESS_H_

#include "absl/strings/string_view.h"
#include "engine/http/router.h"

namespace volley::http::api {

inline constexpr absl::string_view kLivenessPath = "/api/check-liveness/v1";

// Routes GET kLivenessPath to a handler that answers 200 "OK\n" at once. It checks nothing
// beyond the loop being able to answer: a loop stuck in a blocking call cannot, and that is
// what the check is for. Call on the router's thread.
void RegisterLiveness(Router* router);

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_LIVENESS_H_
