// RFC 8058 one-click unsubscribe, the other end of the links bounce/list_unsubscribe.h puts in
// bulk mail ([unsubscribe] url's path on the HTTP listener; a proxy in front terminates TLS):
//   POST <path>/TOKEN  -> 200: the recipient is on the suppression list for the link's tenant
//                         (source "unsubscribe"), and an Unsubscribe record is logged.
//                         400 a malformed token, 403 a forged one, 410 an expired one: nothing
//                         is suppressed. 503 when the list cannot be written.
//   GET <path>/TOKEN   -> a page with a button that POSTs: a link opened in a browser, or
//                         fetched by a scanner, must not unsubscribe anyone (RFC 8058 3.1).
// The POST's body ("List-Unsubscribe=One-Click") is not required: some clients send none.
#ifndef VOLLEY_ENGINE_HTTP_API_UNSUBSCRIBE_H_
#define VOLLEY_ENGINE_HTTP_API_UNSUBSCRIBE_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/base/clock.h"
#include "engine/bounce/suppression_list.h"
#include "engine/bounce/unsubscribe_token.h"
#include "engine/http/router.h"

namespace volley::http::api {

struct UnsubscribeBackend {
  std::string path;                                   // "/u"
  const bounce::UnsubscribeTokens* tokens = nullptr;  // outlive the router
  bounce::SuppressionList* list = nullptr;
  Clock* clock = nullptr;
  RunBlocking run_blocking;  // the list's spool write
  // On the router's thread, once the entry is stored: the Unsubscribe record. `peer` is the
  // client that followed the link (the mailbox provider, usually).
  std::function<void(const bounce::UnsubscribeClaim& claim, absl::string_view peer)> record;
};

// Routes POST and GET below backend.path. Call on the router's thread.
void RegisterUnsubscribe(Router* router, UnsubscribeBackend backend);

}  // namespace volley::http::api

#endif  // VOLLEY_ENGINE_HTTP_API_UNSUBSCRIBE_H_
