// [shaping]: limits, timeouts and TLS per destination, in the tables of shaping_rules.h.
#ifndef VOLLEY_ENGINE_CONFIG_SHAPING_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_SHAPING_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [shaping] into config.shaping: [shaping.default] into its defaults (wherever that table
// is in the file), every other table as a layer over them. Remembers each egress_pool and egress
// source name written, with its line, for the checks that they exist.
void ParseShapingSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_SHAPING_SECTION_H_
