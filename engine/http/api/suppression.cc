#include "engine/http/api/suppression.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/json.h"
#include "engine/base/json_request.h"
#include "engine/config/values.h"
#include "engine/http/api/json_error.h"
#include "engine/http/query.h"

namespace volley::http::api {
namespace {

constexpr size_t kDefaultPage = 100;
constexpr size_t kMaxPage = 1000;

HttpResponse Refused(const absl::Status& status) {
  return JsonError(400, status.message(), FieldOf(status));
}

HttpResponse SpoolFailed(const absl::Status& status) {
  return JsonError(503, absl::StrCat("the suppression list is unavailable: ", status.message()));
}

// POST's body as an entry (its times from `now`).
absl::StatusOr<bounce::SuppressionEntry> ParseAdd(absl::string_view body, absl::Time now) {
  absl::StatusOr<nlohmann::json> j = ParseJsonObject(body);
  if (!j.ok()) return j.status();
  if (absl::Status known = CheckKnownFields(*j, {"recipient", "reason", "tenant", "duration"});
      !known.ok()) {
    return known;
  }
  bounce::SuppressionEntry e;
  std::string duration;
  for (auto [key, field] :
       std::vector<std::pair<const char*, std::string*>>{{"recipient", &e.recipient},
                                                         {"reason", &e.reason},
                                                         {"tenant", &e.tenant},
                                                         {"duration", &duration}}) {
    absl::StatusOr<std::string> value = OptionalString(*j, key);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  if (e.recipient.empty()) return FieldError("recipient", "required");
  if (e.reason.empty())
    return FieldError("reason", "required (it goes into the Suppressed records)");
  e.source = "admin";
  absl::Duration lifetime = absl::InfiniteDuration();
  if (!duration.empty()) {
    absl::StatusOr<absl::Duration> d = config::ParseDurationValue(duration);
    if (!d.ok() || *d <= absl::ZeroDuration()) {
      return FieldError(
          "duration",
          absl::StrCat("\"", duration, "\" is not a duration such as \"30d\" or \"12h\""));
    }
    lifetime = *d;
  }
  e.SetLifetime(now, lifetime);
  return e;
}

// DELETE's body: the recipient and tenant.
absl::StatusOr<std::pair<std::string, std::string>> ParseRemove(absl::string_view body) {
  absl::StatusOr<nlohmann::json> j = ParseJsonObject(body);
  if (!j.ok()) return j.status();
  if (absl::Status known = CheckKnownFields(*j, {"recipient", "tenant"}); !known.ok()) return known;
  absl::StatusOr<std::string> recipient = OptionalString(*j, "recipient");
  if (!recipient.ok()) return recipient.status();
  if (recipient->empty()) return FieldError("recipient", "required");
  absl::StatusOr<std::string> tenant = OptionalString(*j, "tenant");
  if (!tenant.ok()) return tenant.status();
  return std::make_pair(*std::move(recipient), *std::move(tenant));
}

void Get(const SuppressionBackend& backend, const HttpRequest& request, Respond respond) {
  absl::StatusOr<std::optional<std::string>> recipient = QueryParam(request.query, "recipient");
  absl::StatusOr<std::optional<std::string>> tenant = QueryParam(request.query, "tenant");
  absl::StatusOr<std::optional<std::string>> after = QueryParam(request.query, "after");
  absl::StatusOr<std::optional<std::string>> limit_text = QueryParam(request.query, "limit");
  for (const auto* p : {&recipient, &tenant, &after, &limit_text}) {
    if (!p->ok()) return std::move(respond)(JsonError(400, p->status().message()));
  }
  if (recipient->has_value()) {
    backend.run_blocking(
        [backend, r = **recipient, t = tenant->value_or("")] {
          absl::StatusOr<std::optional<bounce::SuppressionEntry>> found =
              backend.list->Lookup(r, t);
          if (!found.ok()) return SpoolFailed(found.status());
          if (!found->has_value()) {
            return JsonError(404, absl::StrCat("\"", r, "\" is not suppressed"), "recipient");
          }
          return HttpResponse::Json(200, absl::StrCat(bounce::SuppressionEntryJson(**found), "\n"));
        },
        std::move(respond));
    return;
  }
  size_t limit = kDefaultPage;
  if (limit_text->has_value() &&
      (!absl::SimpleAtoi(**limit_text, &limit) || limit == 0 || limit > kMaxPage)) {
    return std::move(respond)(
        JsonError(400, absl::StrCat("limit: expected 1 to ", kMaxPage), "limit"));
  }
  std::string cursor;
  if (after->has_value() && !absl::WebSafeBase64Unescape(**after, &cursor)) {
    return std::move(respond)(JsonError(400, "after: not a cursor this API gave", "after"));
  }
  backend.run_blocking(
      [backend, cursor = std::move(cursor), limit] {
        absl::StatusOr<bounce::SuppressionList::Page> page = backend.list->List(cursor, limit);
        if (!page.ok()) return SpoolFailed(page.status());
        std::vector<std::string> entries;
        for (const bounce::SuppressionEntry& e : page->entries) {
          entries.push_back(bounce::SuppressionEntryJson(e));
        }
        std::string body;
        JsonObjectWriter w(&body);
        w.Raw("entries", absl::StrCat("[", absl::StrJoin(entries, ","), "]"));
        if (page->next.empty()) {
          w.Null("next");
        } else {
          w.String("next", absl::WebSafeBase64Escape(page->next));
        }
        w.Finish();
        body.push_back('\n');
        return HttpResponse::Json(200, std::move(body));
      },
      std::move(respond));
}

}  // namespace

void RegisterSuppression(Router* router, SuppressionBackend backend) {
  router->Add("GET", kSuppressionPath, [backend](const HttpRequest& request, Respond respond) {
    Get(backend, request, std::move(respond));
  });
  router->Add("POST", kSuppressionPath, [backend](const HttpRequest& request, Respond respond) {
    absl::StatusOr<bounce::SuppressionEntry> entry = ParseAdd(request.body, backend.clock->Now());
    if (!entry.ok()) return std::move(respond)(Refused(entry.status()));
    backend.run_blocking(
        [backend, e = *std::move(entry)]() mutable {
          absl::Status added = backend.list->Add(e);
          if (absl::IsInvalidArgument(added)) return JsonError(400, added.message(), "recipient");
          if (!added.ok()) return SpoolFailed(added);
          absl::StatusOr<std::optional<bounce::SuppressionEntry>> stored =
              backend.list->Lookup(e.recipient, e.tenant);
          if (!stored.ok() || !stored->has_value()) return SpoolFailed(stored.status());
          return HttpResponse::Json(200,
                                    absl::StrCat(bounce::SuppressionEntryJson(**stored), "\n"));
        },
        std::move(respond));
  });
  router->Add("DELETE", kSuppressionPath, [backend](const HttpRequest& request, Respond respond) {
    absl::StatusOr<std::pair<std::string, std::string>> which = ParseRemove(request.body);
    if (!which.ok()) return std::move(respond)(Refused(which.status()));
    backend.run_blocking(
        [backend, which = *std::move(which)] {
          const absl::Status removed = backend.list->Remove(which.first, which.second);
          if (absl::IsNotFound(removed)) return JsonError(404, removed.message(), "recipient");
          if (!removed.ok()) return SpoolFailed(removed);
          std::string body;
          JsonObjectWriter(&body)
              .String("recipient", which.first)
              .StringOrNull("tenant", which.second)
              .Bool("removed", true)
              .Finish();
          body.push_back('\n');
          return HttpResponse::Json(200, std::move(body));
        },
        std::move(respond));
  });
}

}  // namespace volley::http::api
