// The admin API's suppression list (bounce/suppression_list.h):
//   GET    ?recipient=R[&tenant=T] -> 200 the entry that suppresses R for T's mail, 404 if none
//   GET    [?after=CURSOR][&limit=N] -> 200 {"entries": [...], "next": CURSOR | null}: a page in
//          recipient order (limit 1 to 1000, default 100; `next` null after the last page)
//   POST   {"recipient", "reason", "tenant"?, "duration"?} -> 200 the entry (source "admin");
//          without a duration it lasts until removed
//   DELETE {"recipient", "tenant"?} -> 200 {"recipient", "tenant", "removed": true}; 404 if none
// Entries are JSON as bounce::SuppressionEntryJson writes them. A bad request is 400 naming the
// field; a spool that cannot be read or written, 503.
#ifndef VOLLEY_ENGINE_HTTP_API_SUPPRESSION_H_
#define VOLLEY_ENGINE_HTTP_API_SUPPRESSION_H_

#include <functional>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/base/clock.h"
#include "engine/bounce/suppression_list.h"
#include "engine/http/router.h"

namespace volley::http::api {

inline constexpr absl::string_view kSuppressionPath = "/api/admin/suppression/v1";

struct SuppressionBackend {
  bounce::SuppressionList* list = nullptr;  // outlives the router
  Clock* clock = nullptr;
  RunBlocking run_blocking;  // its spool reads and writes
};

// Routes GET, POST and DELETE kSuppressionPath. Call on the router's thread.
void RegisterSuppression(Router* router, SuppressionBackend backend);

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_SUPPRESSION_H_
