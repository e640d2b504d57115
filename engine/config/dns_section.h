// [dns]: the resolver's servers, timeout, address families and cache.
#ifndef VOLLEY_ENGINE_CONFIG_DNS_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_DNS_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [dns] into config.dns, and remembers the line of max_ttl for the check against min_ttl.
void ParseDnsSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_DNS_SECTION_H_
