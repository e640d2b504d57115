// [unsubscribe]: RFC 8058 one-click unsubscribe links.
#ifndef VOLLEY_ENGINE_CONFIG_UNSUBSCRIBE_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_UNSUBSCRIBE_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [unsubscribe] (url, secret, expire_after, enabled, and [unsubscribe.tenant."NAME"]
// enabled) into config.unsubscribe.
void ParseUnsubscribeSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_UNSUBSCRIBE_SECTION_H_
