// Bearer tokens (RFC 6750) for the HTTP API: `[http] admin_token` guards /api/admin/*, and
// `[http] inject_token` (or the admin token) the injection API. A missing token is 401 with
// WWW-Authenticate, another token 403; tokens are compared in constant time, so that how much
// of a guess matched does not show in the answer's time.
#ifndef VOLLEY_ENGINE_HTTP_BEARER_AUTH_H_
#define VOLLEY_ENGINE_HTTP_BEARER_AUTH_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/http/http_message.h"

namespace volley::http {

// The token of an "Authorization: Bearer <token>" value, or "" when it is not one.
absl::string_view BearerToken(absl::string_view authorization);

// True when `a` and `b` are the same, in a time that depends only on their lengths.
bool SameToken(absl::string_view a, absl::string_view b);

// nullopt when `request` carries one of `accepted` (the empty ones do not count), else the
// answer: 401 without a bearer token, 403 with another one. `what` names the token in the
// answer ("admin_token"). Pure.
std::optional<HttpResponse> CheckBearer(const HttpRequest& request,
                                        const std::vector<std::string>& accepted,
                                        absl::string_view what);

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_BEARER_AUTH_H_
