// [routes]: smarthosts per recipient domain.
#ifndef VOLLEY_ENGINE_CONFIG_ROUTES_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_ROUTES_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [routes] into the parser's pending routes (CrossSectionState::pending_routes): their
// default port is [delivery] port, which may come later in the file, so CheckAcrossSections
// (cross_checks.h) turns them into config.routes once the whole file is read.
void ParseRoutesSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_ROUTES_SECTION_H_
