// [inject] and its one table, [inject.smtp]: where and how messages are injected over SMTP.
#ifndef VOLLEY_ENGINE_CONFIG_INJECT_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_INJECT_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [inject] into config.inject, and [inject.smtp] with its [[inject.smtp.listener]] tables
// into config.inject_smtp and config.smtp_listeners, remembering the line of each
// listen address for the check against [http] listen.
void ParseInjectSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_INJECT_SECTION_H_
