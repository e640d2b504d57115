// The checks across tables; see cross_checks.h.
#include "engine/config/cross_checks.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace volley::config {
namespace {

void ResolveRoutes(ConfigParser& parser, Config& config) {
  std::vector<PendingRoute>& pending_routes = parser.cross_section().pending_routes;
  std::stable_sort(pending_routes.begin(), pending_routes.end(),
                   [](const PendingRoute& a, const PendingRoute& b) { return a.line < b.line; });
  absl::flat_hash_map<std::string, uint32_t> first_line;
  for (PendingRoute& pending : pending_routes) {
    const auto [it, inserted] = first_line.emplace(pending.domain, pending.line);
    if (!inserted) {
      parser.AddError(pending.line, absl::StrCat("[routes] duplicate route for domain '",
                                                 pending.domain, "' (first at line ", it->second,
                                                 "; domains are case-insensitive)"));
      continue;
    }
    Route route;
    route.host.host = std::move(pending.host);
    // Implicit TLS has its own well-known port (RFC 8314).
    route.host.port = pending.port.value_or(
        pending.tls == TlsPolicy::kImplicit ? uint16_t{465} : config.delivery.port);
    route.tls = pending.tls;
    route.auth_user = std::move(pending.auth_user);
    route.auth_password = std::move(pending.auth_password);
    route.allow_auth_without_tls = pending.allow_auth_without_tls;
    config.routes.emplace(pending.domain, std::move(route));
  }
}

void CheckTtls(ConfigParser& parser, const Config& config) {
  if (config.dns.min_ttl > config.dns.max_ttl) {
    parser.AddError(parser.cross_section().max_ttl_line,
                    "[dns] min_ttl must not be longer than max_ttl");
  }
}

void CheckPools(ConfigParser& parser, const Config& config) {
  for (const auto& [pool, line] : parser.cross_section().pool_lines) {
    if (!config.egress_pools.contains(pool)) {
      parser.AddError(line, absl::StrCat("egress_pool \"", pool, "\" is not defined (no [egress.",
                                         pool, "] table)"));
    }
  }
}

void CheckShapingSources(ConfigParser& parser, const Config& config) {
  for (const auto& [source, line] : parser.cross_section().source_lines) {
    bool found = false;
    for (const auto& [name, pool] : config.egress_pools) {
      for (const EgressSource& s : pool.sources) found = found || s.name == source;
    }
    if (!found) {
      parser.AddError(line, absl::StrCat("egress source \"", source,
                                         "\" is not in any [egress] pool (a source's name is its "
                                         "`name`, or its address)"));
    }
  }
}

void CheckWarmups(ConfigParser& parser, const Config& config) {
  for (const auto& [schedule, line] : parser.cross_section().warmup_lines) {
    if (!config.warmup_schedules.contains(schedule)) {
      parser.AddError(line, absl::StrCat("warm-up schedule \"", schedule,
                                         "\" is not defined (no [warmup.", schedule, "] table)"));
    }
  }
}

void CheckRetries(ConfigParser& parser, const Config& config) {
  const DeliveryConfig& delivery = config.delivery;
  if (delivery.retry_initial > delivery.retry_max) {
    const CrossSectionState& cross_section = parser.cross_section();
    parser.AddError(
        cross_section.retry_initial_line != 0 ? cross_section.retry_initial_line
                                              : cross_section.retry_max_line,
        absl::StrCat("[delivery] retry_initial (", absl::FormatDuration(delivery.retry_initial),
                     ") must not be longer than retry_max (",
                     absl::FormatDuration(delivery.retry_max), ")"));
  }
}

void CheckListenClash(ConfigParser& parser, const Config& config) {
  // Port 0 means "any free port": two of those never clash.
  if (config.http.listen.port == 0) return;
  const CrossSectionState& cross_section = parser.cross_section();
  for (const SmtpListenerConfig& listener : config.smtp_listeners) {
    if (std::find(listener.listen.begin(), listener.listen.end(), config.http.listen) ==
        listener.listen.end()) {
      continue;
    }
    uint32_t smtp_line = 0;
    for (const auto& [address, line] : cross_section.smtp_listen) {
      if (address == config.http.listen) smtp_line = line;
    }
    parser.AddError(
        cross_section.http_listen_line != 0 ? cross_section.http_listen_line : smtp_line,
        absl::StrCat("[http] listen: ", config.http.listen.ToString(),
                     " is also an [inject.smtp] listen address"));
  }
}

// The admin API can purge the queue and lift suspensions: off loopback it must not be open.
void CheckAdminExposure(ConfigParser& parser, const Config& config) {
  const std::string& host = config.http.listen.host;
  const bool loopback = absl::StartsWith(host, "127.") || host == "::1" || host == "[::1]";
  if (loopback || !config.http.admin_token.empty()) return;
  parser.AddError(parser.cross_section().http_listen_line,
                  absl::StrCat("[http] listen: ", config.http.listen.ToString(),
                               " is not a loopback address, and the admin API would be open to "
                               "anyone who reaches it: set [http] admin_token"));
}

}  // namespace

void CheckAcrossSections(ConfigParser& parser, Config& config) {
  CheckAdminExposure(parser, config);
  ResolveRoutes(parser, config);
  CheckTtls(parser, config);
  CheckPools(parser, config);
  CheckShapingSources(parser, config);
  CheckWarmups(parser, config);
  CheckRetries(parser, config);
  CheckListenClash(parser, config);
}

}  // namespace volley::config
