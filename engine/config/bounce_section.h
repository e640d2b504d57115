// [bounce]: the classification rules an operator adds to the shipped ones.
#ifndef VOLLEY_ENGINE_CONFIG_BOUNCE_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_BOUNCE_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [bounce] into config.bounce. `rules` names a file, read and checked now, so that a
// mistake in it is reported with the config's others (each of its problems as "[bounce] rules:
// FILE:LINE: message" on the `rules` line).
void ParseBounceSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_BOUNCE_SECTION_H_
