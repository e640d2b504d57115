// [http]: the HTTP API: its listen address, metric cardinality, and the injection API's token
// and limits.
#ifndef VOLLEY_ENGINE_CONFIG_HTTP_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_HTTP_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [http] into config.http, and remembers the line of its listen address.
void ParseHttpSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_HTTP_SECTION_H_
