// [routes]; see routes_section.h.
#include "engine/config/routes_section.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/base/bytes.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

// A route's `host`: a host name or IP address, with an optional port. False (with the problem
// reported) when it is not usable. `what` is "[routes.domain]".
bool ReadRouteHost(const toml::node& value, absl::string_view what, ConfigParser& parser,
                   PendingRoute& pending) {
  const std::string host_what = absl::StrCat(what, " host");
  std::optional<std::string> text = parser.ReadString(value, host_what);
  if (!text.has_value()) return false;
  absl::StatusOr<SplitAddress> address = SplitHostPort(*text);
  if (address.ok() && address->unbracketed_ipv6) {
    address = absl::InvalidArgumentError(absl::StrCat(
        "bad address \"", *text, "\": write IPv6 addresses as [address] or [address]:port"));
  }
  if (!address.ok()) {
    parser.AddError(value, absl::StrCat(host_what, ": ", address.status().message()));
    return false;
  }
  pending.host = std::move(address->host);
  pending.port = address->port;
  return true;
}

// One key of a route's table other than `host`. False (with the problem reported) when the
// key is unknown or its value not usable.
bool ReadRouteKey(const toml::key& key, const toml::node& value, absl::string_view what,
                  ConfigParser& parser, PendingRoute& pending) {
  const absl::string_view name = AsAbsl(key.str());
  if (name == "tls") {
    pending.tls = parser.ReadTlsPolicy(value, absl::StrCat(what, " tls"), true);
    return pending.tls.has_value();
  }
  if (name == "auth_user" || name == "auth_password") {
    std::optional<std::string> text = parser.ReadString(value, absl::StrCat(what, " ", name));
    if (!text.has_value() || text->empty()) {
      if (text.has_value()) parser.AddError(value, absl::StrCat(what, " ", name, ": empty"));
      return false;
    }
    (name == "auth_user" ? pending.auth_user : pending.auth_password) = *std::move(text);
    return true;
  }
  if (name == "allow_auth_without_tls") {
    std::optional<bool> flag =
        parser.ReadBool(value, absl::StrCat(what, " allow_auth_without_tls"));
    if (!flag.has_value()) return false;
    pending.allow_auth_without_tls = *flag;
    return true;
  }
  parser.AddError(key, absl::StrCat("unknown key '", name, "' in ", what));
  return false;
}

// One route, `"domain" = { host = ... }`; nullopt (with the problems reported) when it is not
// usable.
std::optional<PendingRoute> ParseRoute(const toml::key& key, const toml::table& route,
                                       const std::string& domain, ConfigParser& parser) {
  const std::string what = absl::StrCat("[routes.", QuoteKey(key.str()), "]");
  PendingRoute pending;
  pending.domain = domain;
  pending.line = key.source().begin.line;
  bool has_host = false;
  bool ok = true;
  for (auto&& [route_key, route_value] : route) {
    if (route_key.str() == "host") {
      has_host = true;
      if (!ReadRouteHost(route_value, what, parser, pending)) ok = false;
    } else if (!ReadRouteKey(route_key, route_value, what, parser, pending)) {
      ok = false;
    }
  }
  if (!has_host) {
    parser.AddError(key, absl::StrCat(what, ": missing key 'host'"));
    ok = false;
  }
  if (ok && pending.auth_user.empty() != pending.auth_password.empty()) {
    parser.AddError(key, absl::StrCat(what, ": auth_user and auth_password go together"));
    ok = false;
  }
  if (!ok) return std::nullopt;
  return pending;
}

}  // namespace

void ParseRoutesSection(const toml::table& table, ConfigParser& parser, Config& /*config*/) {
  for (auto&& [key, value] : table) {
    const std::string domain = absl::AsciiStrToLower(AsAbsl(key.str()));
    if (!IsDomainName(domain)) {
      parser.AddError(
          key,
          absl::StrCat(
              "[routes] \"", AsAbsl(key.str()), "\" is not a valid domain name",
              HasEightBit(domain) ? " (write internationalised domains as xn-- A-labels)" : ""));
      continue;
    }
    const toml::table* route = value.as_table();
    if (route == nullptr) {
      parser.AddError(value,
                      absl::StrCat("[routes] ", QuoteKey(key.str()),
                                   ": expected an inline table like { host = \"10.0.0.1:25\" }, "
                                   "got ",
                                   TypeName(value)));
      continue;
    }
    std::optional<PendingRoute> pending = ParseRoute(key, *route, domain, parser);
    if (pending.has_value()) parser.cross_section().pending_routes.push_back(*std::move(pending));
  }
}

}  // namespace volley::config
