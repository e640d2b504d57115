#include "engine/http/bearer_auth.h"

#include <openssl/mem.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/json.h"

namespace volley::http {
namespace {

HttpResponse Refusal(int status, std::string message) {
  std::string body;
  JsonObjectWriter w(&body);
  w.String("error", message);
  w.Finish();
  body.push_back('\n');
  return HttpResponse::Json(status, std::move(body));
}

}  // namespace

absl::string_view BearerToken(absl::string_view authorization) {
  absl::string_view rest = absl::StripAsciiWhitespace(authorization);
  if (rest.size() < 7 || !absl::EqualsIgnoreCase(rest.substr(0, 7), "Bearer ")) return "";
  return absl::StripAsciiWhitespace(rest.substr(7));
}

bool SameToken(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<HttpResponse> CheckBearer(const HttpRequest& request,
                                        const std::vector<std::string>& accepted,
                                        absl::string_view what) {
  const absl::string_view token = BearerToken(request.Header("authorization"));
  if (token.empty()) {
    HttpResponse response =
        Refusal(401, absl::StrCat("this API needs \"Authorization: Bearer <", what, ">\""));
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"volley\"");
    return response;
  }
  // Every accepted token is compared, whichever matches, so the time does not tell which.
  bool match = false;
  for (const std::string& t : accepted) match = (!t.empty() && SameToken(token, t)) || match;
  if (match) return std::nullopt;
  return Refusal(403, absl::StrCat("the bearer token is not the ", what));
}

}  // namespace volley::http
