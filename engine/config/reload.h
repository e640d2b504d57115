// What SIGHUP changes in a running engine: the tables it re-reads ([shaping], [routes], [warmup],
// [egress]) come from the new file; every other table stays as the engine started, since
// listeners, the spool, threads and the retry schedule are fixed for the life of the process.
#ifndef VOLLEY_ENGINE_CONFIG_RELOAD_H_
#define VOLLEY_ENGINE_CONFIG_RELOAD_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/config/config.h"

namespace volley::config {

// The top-level tables a reload applies.
inline constexpr absl::string_view kReloadableTables[] = {"shaping", "routes", "egress", "warmup"};

struct ReloadPlan {
  Config config;  // the running config with the reloadable tables of the new file
  // The reloadable tables whose content changed, and the other tables that changed too (in the
  // order of Config's sections), which take effect only at the next start.
  std::vector<std::string> applied;
  std::vector<std::string> need_restart;
};

// `loaded` is the new file, parsed and checked whole (ParseConfig): a file with errors is never
// planned.
ReloadPlan PlanReload(const Config& running, Config loaded);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_RELOAD_H_
