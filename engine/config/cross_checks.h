// What runs once the whole file is read, since a table may depend on one that comes later in
// the file: [routes] take their default port from [delivery], and some values are checked
// against values of other tables.
#ifndef VOLLEY_ENGINE_CONFIG_CROSS_CHECKS_H_
#define VOLLEY_ENGINE_CONFIG_CROSS_CHECKS_H_

#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// Turns the routes the [routes] parser left in `parser` into config.routes (reporting domains
// routed twice), then checks [dns] min_ttl against max_ttl, every egress_pool against the
// [egress] pools, [delivery] retry_initial against retry_max, and [http] listen against the
// [inject.smtp] listen addresses.
void CheckAcrossSections(ConfigParser& parser, Config& config);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_CROSS_CHECKS_H_
