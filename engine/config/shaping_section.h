// [shaping.default] and [shaping."domain"]: limits, timeouts and TLS per destination.
#ifndef VOLLEY_ENGINE_CONFIG_SHAPING_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_SHAPING_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [shaping] into config.shaping_default and config.shaping_domains (each domain starts
// from [shaping.default], wherever that is in the file), and remembers each egress_pool written
// with its line, for the check that the pool exists.
void ParseShapingSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_SHAPING_SECTION_H_
