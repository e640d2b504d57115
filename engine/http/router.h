// Exact method-and-path routing for Volley's HTTP server.
#ifndef VOLLEY_ENGINE_HTTP_ROUTER_H_
#define VOLLEY_ENGINE_HTTP_ROUTER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/http/http_message.h"

namespace volley::http {

// Routes requests to handlers by exact method and path (no patterns, no trailing-slash
// folding: "/metrics/" is not "/metrics"). A path nobody routes gets 404; a routed path asked
// with a method it has no handler for gets 405 with an Allow header listing its methods,
// sorted. HEAD is a method like any other: it reaches a handler only if one was added for it.
//
// Not thread-safe: all calls, and the handlers, on the server's loop thread. Add may be called
// from a handler, even to replace the handler that is running.
class Router {
 public:
  // Adds a route, replacing any handler for the same method and path.
  void Add(absl::string_view method, absl::string_view path, Handler handler);
  // Routes every path below `prefix` ("/u" routes "/u/TOKEN", not "/u" nor "/ux") that no
  // exact route has; the longest prefix wins. The handler sees the whole path.
  void AddPrefix(absl::string_view method, absl::string_view prefix, Handler handler);

  // A check every request whose path starts with `prefix` passes before it is routed (so that
  // an unknown path below it says nothing without the check either): nullopt lets it through,
  // an answer refuses it. The API's bearer tokens guard "/api/admin/" this way.
  using Check = std::function<std::optional<HttpResponse>(const HttpRequest&)>;
  void Guard(absl::string_view prefix, Check check);

  // Hands the request to its handler, or answers 404 or 405 through `respond`.
  void Dispatch(const HttpRequest& request, Respond respond);

  // The methods routed for `path`, sorted (empty for an unknown path).
  std::vector<std::string> MethodsFor(absl::string_view path) const;

 private:
  // Handlers are shared so that one replaced while it runs lives until it returns. The methods
  // are a sorted map, which is the order of the Allow header.
  using Methods = std::map<std::string, std::shared_ptr<Handler>>;
  absl::flat_hash_map<std::string, Methods> routes_;
  std::vector<std::pair<std::string, Check>> guards_;
  // Prefix (with its trailing '/') -> methods, longest first.
  std::vector<std::pair<std::string, Methods>> prefixes_;

  // The methods of the route `path` takes: exact, else by prefix (null: none).
  const Methods* Find(absl::string_view path) const;
};

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_ROUTER_H_
