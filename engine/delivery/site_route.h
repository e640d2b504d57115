// Where a domain's mail goes: the site (the MX host set, or a smarthost route) that a domain
// resolved to, with the hosts to try. Made by the domain's shard after resolution, immutable,
// and handed with the recipients to the shard that owns the site.
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_ROUTE_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_ROUTE_H_

#include <cstdint>
#include <memory>
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

// The shaping of a site as its domain resolved it (config::ShapingRules::Resolve): for
// connections from each source of its egress pool, and for what is not per source.
struct SiteShaping {
  config::ShapingConfig site;                    // without source tables: pool, log records
  std::vector<config::ShapingConfig> by_source;  // index: the pool's sources
  const config::EgressPool* pool = nullptr;      // points into the Config
};

struct SiteRoute {
  // The site queue's identity: domains with the same key share one ready queue, one connection
  // pool and one set of limits. The sorted MX host names for most domains; a domain with its
  // own [shaping."domain"] tables keeps a queue of its own, and so does each provider taking
  // domains by their name (DomainSuffix) from a site; routes are keyed by host and by their TLS
  // and AUTH settings.
  std::string key;
  std::string name;  // the site as log records show it
  std::vector<ConnectTarget> targets;
  absl::Time expires = absl::InfiniteFuture();  // when the domain must be resolved again
  std::shared_ptr<const SiteShaping> shaping;
  // Points into the process's Config, which outlives every shard.
  const config::Route* route = nullptr;  // null unless the domain has a [routes] entry
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_ROUTE_H_
