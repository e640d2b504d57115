// [egress."pool"]: the local addresses deliveries leave from.
#ifndef VOLLEY_ENGINE_CONFIG_EGRESS_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_EGRESS_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [egress] into config.egress_pools (the "default" pool is there already, and a table of
// that name replaces it).
void ParseEgressSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_EGRESS_SECTION_H_
