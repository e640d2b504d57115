// [warmup."NAME"]: IP warm-up schedules, which [egress] sources name with `warmup = "NAME"`.
#ifndef VOLLEY_ENGINE_CONFIG_WARMUP_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_WARMUP_SECTION_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Reads [warmup] into config.warmup_schedules ("standard" is there already, and a table of that
// name replaces it).
void ParseWarmupSection(const toml::table& table, ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_WARMUP_SECTION_H_
