// The admin API's suspensions (KumoMTA's /api/admin/suspend/v1):
//   POST   {"domain"?, "site"?, "tenant"?, "campaign"?, "source"?, "reason", "duration"? |
//           "expires"?} -> 200 with the suspension (its "id" lifts it); 400 naming the field
//   GET    -> 200 with the active suspensions, a JSON array of adaptive::SuspensionJson objects
//   DELETE {"id"} -> 200 {"id", "lifted": true}; 404 for an id that is not active
// A suspension is stored in the spool (synced) before the answer, so it survives a restart.
#ifndef VOLLEY_ENGINE_HTTP_API_SUSPEND_H_
#define VOLLEY_ENGINE_HTTP_API_SUSPEND_H_

#include <functional>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/adaptive/suspension_store.h"
#include "engine/base/clock.h"
#include "engine/http/router.h"

namespace volley::http::api {

inline constexpr absl::string_view kSuspendPath = "/api/admin/suspend/v1";

struct SuspendBackend {
  adaptive::SuspensionStore* store = nullptr;  // outlives the router
  Clock* clock = nullptr;
  RunBlocking run_blocking;  // its spool writes
};

// Routes POST, GET and DELETE kSuspendPath. Call on the router's thread.
void RegisterSuspend(Router* router, SuspendBackend backend);

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_SUSPEND_H_
