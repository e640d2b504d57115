#include "engine/http/router.h"

#include <utility>

#include "absl/strings/str_join.h"

namespace volley::http {

void Router::Add(absl::string_view method, absl::string_view path, Handler handler) {
  routes_[path][std::string(method)] = std::make_shared<Handler>(std::move(handler));
}

void Router::Dispatch(const HttpRequest& request, Respond respond) {
  auto path_it = routes_.find(request.path);
  if (path_it == routes_.end()) {
    std::move(respond)(HttpResponse::Text(404, "not found\n"));
    return;
  }
  auto method_it = path_it->second.find(request.method);
  if (method_it == path_it->second.end()) {
    HttpResponse response = HttpResponse::Text(405, "method not allowed\n");
    response.headers.emplace_back("Allow", absl::StrJoin(MethodsFor(request.path), ", "));
    std::move(respond)(std::move(response));
    return;
  }
  // The handler may add routes, which can move or replace what the map holds.
  std::shared_ptr<Handler> handler = method_it->second;
  (*handler)(request, std::move(respond));
}

std::vector<std::string> Router::MethodsFor(absl::string_view path) const {
  std::vector<std::string> methods;
  auto it = routes_.find(path);
  if (it == routes_.end()) return methods;
  for (const auto& [method, handler] : it->second) methods.push_back(method);
  return methods;
}

}  // namespace volley::http
