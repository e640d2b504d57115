#include "engine/config/reload.h"

#include <algorithm>
#include <utility>

namespace volley::config {
namespace {

// Every top-level table the parser knows, in the order operators read them in the docs.
constexpr absl::string_view kAllTables[] = {"server",   "inject",  "http",   "dns",
                                            "delivery", "shaping", "routes", "egress",
                                            "warmup",   "bounce",  "webhook"};

bool Reloadable(absl::string_view table) {
  return std::find(std::begin(kReloadableTables), std::end(kReloadableTables), table) !=
         std::end(kReloadableTables);
}

// The table's text, "" when the file does not have it.
const std::string& TableText(const Config& config, absl::string_view table) {
  static const std::string* const kAbsent = new std::string();
  auto it = config.tables.find(table);
  return it == config.tables.end() ? *kAbsent : it->second;
}

}  // namespace

ReloadPlan PlanReload(const Config& running, Config loaded) {
  ReloadPlan plan;
  for (absl::string_view table : kAllTables) {
    if (TableText(running, table) == TableText(loaded, table)) continue;
    (Reloadable(table) ? plan.applied : plan.need_restart).emplace_back(table);
  }
  plan.config = running;
  plan.config.shaping = std::move(loaded.shaping);
  plan.config.routes = std::move(loaded.routes);
  plan.config.egress_pools = std::move(loaded.egress_pools);
  plan.config.warmup_schedules = std::move(loaded.warmup_schedules);
  for (absl::string_view table : kReloadableTables) {
    auto it = loaded.tables.find(table);
    if (it == loaded.tables.end()) {
      plan.config.tables.erase(table);
    } else {
      plan.config.tables[table] = std::move(it->second);
    }
  }
  return plan;
}

}  // namespace volley::config
