// [delivery]: the SMTP port and the retry schedule.
#ifndef VOLLEY_ENGINE_CONFIG_DELIVERY_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_DELIVERY_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [delivery] into config.delivery, and remembers the lines of retry_initial and retry_max
// for the check between them.
void ParseDeliverySection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_DELIVERY_SECTION_H_
