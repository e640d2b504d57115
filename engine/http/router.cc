#include "engine/http/router.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace volley::http {

void Router::Add(absl::string_view method, absl::string_view path, Handler handler) {
  routes_[path][std::string(method)] = std::make_shared<Handler>(std::move(handler));
}

void Router::AddPrefix(absl::string_view method, absl::string_view prefix, Handler handler) {
  const std::string key = absl::StrCat(prefix, "/");
  auto it = std::find_if(prefixes_.begin(), prefixes_.end(),
                         [&](const auto& entry) { return entry.first == key; });
  if (it == prefixes_.end()) {
    // Longest first, so that the first match is the most specific one.
    it = std::find_if(prefixes_.begin(), prefixes_.end(),
                      [&](const auto& entry) { return entry.first.size() < key.size(); });
    it = prefixes_.insert(it, {key, Methods()});
  }
  it->second[std::string(method)] = std::make_shared<Handler>(std::move(handler));
}

const Router::Methods* Router::Find(absl::string_view path) const {
  if (auto it = routes_.find(path); it != routes_.end()) return &it->second;
  for (const auto& [prefix, methods] : prefixes_) {
    if (path.size() > prefix.size() && absl::StartsWith(path, prefix)) return &methods;
  }
  return nullptr;
}

void Router::Guard(absl::string_view prefix, Check check) {
  guards_.emplace_back(std::string(prefix), std::move(check));
}

void Router::Dispatch(const HttpRequest& request, Respond respond) {
  for (const auto& [prefix, check] : guards_) {
    if (!absl::StartsWith(request.path, prefix)) continue;
    if (std::optional<HttpResponse> refused = check(request)) {
      std::move(respond)(*std::move(refused));
      return;
    }
  }
  const Methods* methods = Find(request.path);
  if (methods == nullptr) {
    std::move(respond)(HttpResponse::Text(404, "not found\n"));
    return;
  }
  auto method_it = methods->find(request.method);
  if (method_it == methods->end()) {
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
  const Methods* found = Find(path);
  if (found == nullptr) return methods;
  for (const auto& [method, handler] : *found) methods.push_back(method);
  return methods;
}

}  // namespace volley::http
