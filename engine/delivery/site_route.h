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
#include "dns/resolver.h"
#include "engine/config/config.h"

namespace volley::delivery {

// One address of one host to connect to.
struct ConnectTarget {
  std::string host_name;  // MX host name (or the route host) for logs, SNI and verification
  std::string address;    // numeric IP
  uint16_t port = 25;

  bool operator==(const ConnectTarget& other) const {
    return address == other.address && port == other.port && host_name == other.host_name;
  }
};

// The shaping of a site as its domain resolved it (config::ShapingRules::Resolve): for
// connections from each source of its egress pool, and for what is not per source.
struct SiteShaping {
  config::ShapingConfig site;                    // without source tables: pool, log records
  std::vector<config::ShapingConfig> by_source;  // index: the pool's sources
  // The tables that made each source's limits, in the order they applied: "[shaping.default]
  // (line 3)" (for the explain read-out).
  std::vector<std::vector<std::string>> rules_by_source;
  const config::EgressPool* pool = nullptr;  // points into the route's config
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
  const config::Route* route = nullptr;  // null unless the domain has a [routes] entry
  // The config this was made under, which `shaping->pool` and `route` point into: a reload
  // (SIGHUP) switches the shards to a new one while routes made before it still hold the old.
  std::shared_ptr<const config::Config> config;
  // What it was made of (MakeSiteRoute), to make it again under a reloaded config.
  std::string domain;
  dns::MxResult resolution;
};

// What `domain`, resolved to `resolution` (kOk), sends to under `config`: the site's key, its
// hosts and its limits. A domain with a [routes] entry was resolved for the route's host.
std::shared_ptr<const SiteRoute> MakeSiteRoute(std::shared_ptr<const config::Config> config,
                                               const std::string& domain,
                                               const dns::MxResult& resolution);

// The domain's [routes] entry in `config`, or null.
const config::Route* RouteFor(const config::Config& config, const std::string& domain);

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_ROUTE_H_
