#include "engine/http/api/unsubscribe.h"

#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/http/api/json_error.h"

namespace volley::http::api {
namespace {

// The token of "<path>/TOKEN" (the router only hands over paths below the prefix).
absl::string_view TokenOf(const UnsubscribeBackend& backend, absl::string_view path) {
  return path.substr(backend.path.size() + 1);
}

// The answer to a token that does not verify, or nullopt for a good one.
HttpResponse Refusal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      return HttpResponse::Text(403, "This unsubscribe link is not valid.\n");
    case absl::StatusCode::kDeadlineExceeded:
      return HttpResponse::Text(410, "This unsubscribe link has expired.\n");
    default:
      return HttpResponse::Text(400, "This is not an unsubscribe link.\n");
  }
}

void Post(const UnsubscribeBackend& backend, const HttpRequest& request, Respond respond) {
  absl::StatusOr<bounce::UnsubscribeClaim> claim =
      backend.tokens->Verify(TokenOf(backend, request.path), backend.clock->Now());
  if (!claim.ok()) return std::move(respond)(Refusal(claim.status()));
  auto stored = std::make_shared<bool>(false);
  // The record is written on this thread once the entry is stored: wrap the answer.
  Respond answer = [backend, claim = *claim, peer = request.peer_address, stored,
                    respond = std::move(respond)](HttpResponse response) mutable {
    if (*stored) backend.record(claim, peer);
    std::move(respond)(std::move(response));
  };
  backend.run_blocking(
      [backend, claim = *std::move(claim), stored] {
        bounce::SuppressionEntry entry;
        entry.recipient = absl::AsciiStrToLower(claim.recipient);
        entry.tenant = claim.tenant;
        entry.reason = claim.campaign.empty()
                           ? std::string("one-click unsubscribe")
                           : absl::StrCat("one-click unsubscribe from campaign ", claim.campaign);
        entry.source = "unsubscribe";
        entry.created = backend.clock->Now();
        if (absl::Status added = backend.list->Add(std::move(entry)); !added.ok()) {
          return JsonError(503,
                           absl::StrCat("the unsubscribe could not be stored: ", added.message()));
        }
        // (Read on the server's thread after the hop run_blocking makes.)
        *stored = true;
        return HttpResponse::Text(200, "You are unsubscribed.\n");
      },
      std::move(answer));
}

void Get(const UnsubscribeBackend& backend, const HttpRequest& request, Respond respond) {
  absl::StatusOr<bounce::UnsubscribeClaim> claim =
      backend.tokens->Verify(TokenOf(backend, request.path), backend.clock->Now());
  if (!claim.ok()) return std::move(respond)(Refusal(claim.status()));
  // The form posts to the address the page was fetched from (an empty action), so a proxy's
  // external URL works unchanged. Nothing here comes from the request.
  HttpResponse page;
  page.status = 200;
  page.content_type = "text/html; charset=utf-8";
  page.body =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head>"
      "<body><form method=\"post\" action=\"\">"
      "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
      "<p>Stop receiving these messages?</p><button type=\"submit\">Unsubscribe</button>"
      "</form></body></html>\n";
  std::move(respond)(std::move(page));
}

}  // namespace

void RegisterUnsubscribe(Router* router, UnsubscribeBackend backend) {
  router->AddPrefix("POST", backend.path, [backend](const HttpRequest& request, Respond respond) {
    Post(backend, request, std::move(respond));
  });
  router->AddPrefix("GET", backend.path, [backend](const HttpRequest& request, Respond respond) {
    Get(backend, request, std::move(respond));
  });
}

}  // namespace volley::http::api
