// The SetConfig actions in force at one site: shaping keys a response rule overrode for an
// egress source until a time. The site's effective limits are its configured ones with these
// applied (and, later, adaptive control's).
#ifndef VOLLEY_ENGINE_ADAPTIVE_LIMIT_OVERRIDES_H_
#define VOLLEY_ENGINE_ADAPTIVE_LIMIT_OVERRIDES_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/config/shaping_rules.h"

namespace volley::adaptive {

// Not thread-safe: the site's shard.
class LimitOverrides {
 public:
  struct Override {
    int source = 0;
    config::AutomationAction action;  // kSetConfig
    absl::Time until;
    std::string origin;  // the rule's
  };

  // Sets (or, for a key already overridden for the source, replaces) an override.
  void Set(int source, const config::AutomationAction& action, absl::Time until,
           std::string origin);
  // Drops those ended by `now`; true when one was dropped.
  bool Expire(absl::Time now);
  // `base` (one entry per source) with the overrides applied.
  std::vector<config::ShapingConfig> Apply(std::vector<config::ShapingConfig> base) const;
  // When the first one ends (infinite: none).
  absl::Time NextExpiry() const;
  const std::vector<Override>& all() const { return all_; }

  // "2", "100/s", "" (no limit): an override's value as written.
  static std::string ValueText(const config::AutomationAction& action);

 private:
  std::vector<Override> all_;
};

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_LIMIT_OVERRIDES_H_
