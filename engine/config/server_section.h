// [server]: the host name, threads, spool and delivery log.
#ifndef VOLLEY_ENGINE_CONFIG_SERVER_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_SERVER_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [server] into config.server.
void ParseServerSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_SERVER_SECTION_H_
