// [[webhook]]: the platforms' event endpoints (engine/webhook/).
#ifndef VOLLEY_ENGINE_CONFIG_WEBHOOK_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_WEBHOOK_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads the array of [[webhook]] tables into config.webhooks: `url` required (http://), `events`
// record type names, `batch_size` 1 to 10000, `max_batch_delay` and `timeout` durations,
// `hmac_secret`, `name` unique (default: the url).
void ParseWebhooks(const toml::node& value, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_WEBHOOK_SECTION_H_
