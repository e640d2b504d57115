#include "engine/delivery/site_route.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace volley::delivery {
namespace {

// Routed domains share a queue when they go to the same host the same way.
std::string RouteKey(const config::Route& route) {
  std::string key = absl::StrCat("route:", route.host.ToString());
  if (route.tls) absl::StrAppend(&key, "#tls=", config::TlsPolicyName(*route.tls));
  if (!route.auth_user.empty()) absl::StrAppend(&key, "#auth=", route.auth_user);
  return key;
}

// The limits of `domain` at a site of `hosts` (lower-case MX host names), for what is not per
// source and for each source of its egress pool.
std::shared_ptr<const SiteShaping> ResolveShaping(const config::Config& config,
                                                  const std::string& domain,
                                                  const std::vector<std::string>& hosts) {
  const config::ShapingRules& rules = config.shaping;
  auto shaping = std::make_shared<SiteShaping>();
  shaping->site = rules.Resolve(domain, hosts, "");
  shaping->pool = &config.egress_pools.at(shaping->site.egress_pool);
  for (const config::EgressSource& source : shaping->pool->sources) {
    std::vector<const config::ShapingLayer*> applied;
    shaping->by_source.push_back(rules.Resolve(domain, hosts, source.name, &applied));
    // The built-in defaults under [shaping.default] come first, then every table that applied.
    std::vector<std::string>& names = shaping->rules_by_source.emplace_back();
    names.push_back("[shaping.default]");
    for (const config::ShapingLayer* layer : applied) {
      names.push_back(layer->line == 0 ? layer->table
                                       : absl::StrCat(layer->table, " (line ", layer->line, ")"));
    }
  }
  return shaping;
}

}  // namespace

const config::Route* RouteFor(const config::Config& config, const std::string& domain) {
  auto it = config.routes.find(domain);
  return it == config.routes.end() ? nullptr : &it->second;
}

std::shared_ptr<const SiteRoute> MakeSiteRoute(std::shared_ptr<const config::Config> config,
                                               const std::string& domain,
                                               const dns::MxResult& resolution) {
  auto site = std::make_shared<SiteRoute>();
  const config::Route* route = RouteFor(*config, domain);
  const uint16_t port = route != nullptr ? route->host.port : config->delivery.port;
  std::vector<std::string> hosts;
  for (const dns::MxHost& host : resolution.hosts) {
    hosts.push_back(absl::AsciiStrToLower(host.name));
    for (const std::string& address : host.addresses) {
      site->targets.push_back(ConnectTarget{host.name, address, port});
    }
  }
  if (route != nullptr) {
    site->name = absl::StrCat("route:", route->host.ToString());
    site->key = RouteKey(*route);
  } else {
    // Every MX host name, sorted (the resolver's site name): stable while a host briefly lacks
    // an address.
    site->name = resolution.site_name;
    site->key = site->name;
  }
  site->shaping = ResolveShaping(*config, domain, hosts);
  if (config->shaping.HasDomainTables(domain)) {
    // The domain has limits of its own: it never shares a site.
    site->key = absl::StrCat("domain:", domain);
  } else if (const std::string& provider = site->shaping->site.provider; !provider.empty()) {
    // A provider may take a domain by its name: then the domains of this MX set that it does
    // not take have other limits, and a queue of their own.
    const config::ShapingProvider* by_hosts = config->shaping.ProviderFor("", hosts);
    if (by_hosts == nullptr || by_hosts->name != provider) {
      absl::StrAppend(&site->key, "#provider=", provider);
    }
  }
  site->expires = resolution.expires;
  site->route = route;
  site->config = std::move(config);
  site->domain = domain;
  site->resolution = resolution;
  return site;
}

}  // namespace volley::delivery
