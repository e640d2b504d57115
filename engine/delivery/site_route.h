// Where a domain's mail goes: the site (the MX host set, or a smarthost route) that a domain
// resolved to, with the hosts to try. Made by the domain's shard after resolution, immutable,
// and handed with the recipients to the shard that owns the site.
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_ROUTE_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_ROUTE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/config/config.h"

namespace volley::delivery {

// One address of one host to connect to.
struct ConnectTarget {
  std::string host_name;  // MX host name (or the route host) for logs, SNI and verification
  std::string address;    // numeric IP
  uint16_t port = 25;
};

struct SiteRoute {
  // The site queue's identity: domains with the same key share one ready queue, one connection
  // pool and one set of limits. The sorted MX host names for most domains; a domain with its
  // own [shaping."domain"] table keeps a queue of its own; routes are keyed by host and by
  // their TLS and AUTH settings.
  std::string key;
  std::string name;  // the site as log records show it
  std::vector<ConnectTarget> targets;
  absl::Time expires = absl::InfiniteFuture();  // when the domain must be resolved again
  // Both point into the process's Config, which outlives every shard.
  const config::ShapingConfig* shaping = nullptr;
  const config::Route* route = nullptr;  // null unless the domain has a [routes] entry
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_ROUTE_H_
