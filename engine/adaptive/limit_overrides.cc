#include "engine/adaptive/limit_overrides.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace volley::adaptive {

void LimitOverrides::Set(int source, const config::AutomationAction& action, absl::Time until,
                         std::string origin) {
  for (Override& o : all_) {
    if (o.source == source && o.action.name == action.name) {
      o.action = action;
      o.until = until;
      o.origin = std::move(origin);
      return;
    }
  }
  all_.push_back(Override{source, action, until, std::move(origin)});
}

bool LimitOverrides::Expire(absl::Time now) {
  const size_t before = all_.size();
  all_.erase(
      std::remove_if(all_.begin(), all_.end(), [now](const Override& o) { return o.until <= now; }),
      all_.end());
  return all_.size() != before;
}

std::vector<config::ShapingConfig> LimitOverrides::Apply(
    std::vector<config::ShapingConfig> base) const {
  for (const Override& o : all_) {
    if (o.source < 0 || static_cast<size_t>(o.source) >= base.size()) continue;
    config::ShapingConfig& c = base[static_cast<size_t>(o.source)];
    const std::string& key = o.action.name;
    if (key == "connection_limit") {
      c.connection_limit = o.action.int_value;
    } else if (key == "max_deliveries_per_connection") {
      c.max_deliveries_per_connection = o.action.int_value;
    } else if (key == "max_recipients_per_batch") {
      c.max_recipients_per_batch = o.action.int_value;
    } else if (key == "max_message_rate") {
      c.max_message_rate = o.action.rate_value;
    } else if (key == "max_connection_rate") {
      c.max_connection_rate = o.action.rate_value;
    }
  }
  return base;
}

absl::Time LimitOverrides::NextExpiry() const {
  absl::Time next = absl::InfiniteFuture();
  for (const Override& o : all_) next = std::min(next, o.until);
  return next;
}

std::string LimitOverrides::ValueText(const config::AutomationAction& action) {
  if (action.name == "max_message_rate" || action.name == "max_connection_rate") {
    return action.rate_value.has_value() ? action.rate_value->ToString() : "";
  }
  return absl::StrCat(action.int_value);
}

}  // namespace volley::adaptive
