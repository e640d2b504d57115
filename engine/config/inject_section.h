// [inject] and its one table, [inject.smtp]: where and how messages are injected over SMTP.
#ifndef VOLLEY_ENGINE_CONFIG_INJECT_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_INJECT_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [inject] (that is, [inject.smtp]) into config.inject_smtp, and remembers the line of each
// listen address for the check against [http] listen.
void ParseInjectSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_INJECT_SECTION_H_
