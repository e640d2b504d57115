#include "engine/adaptive/rule_trigger.h"

namespace volley::adaptive {

bool RuleTriggers::Match(size_t rule, int source, const std::optional<config::Rate>& threshold,
                         absl::Time now) {
  if (!threshold.has_value()) return true;
  std::deque<absl::Time>& window = windows_[{rule, source}];
  window.push_back(now);
  while (!window.empty() && window.front() <= now - threshold->period) window.pop_front();
  if (window.size() < threshold->quantity) return false;
  windows_.erase({rule, source});
  return true;
}

}  // namespace volley::adaptive
