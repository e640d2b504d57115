// When a response rule fires: at once ("Immediate"), or at the Threshold's count of matches
// within its period ("3/m": the third match within a minute), counted per rule and egress
// source at one site. After it fires the count starts again.
#ifndef VOLLEY_ENGINE_ADAPTIVE_RULE_TRIGGER_H_
#define VOLLEY_ENGINE_ADAPTIVE_RULE_TRIGGER_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/config/rate.h"

namespace volley::adaptive {

// Not thread-safe: the site's shard.
class RuleTriggers {
 public:
  // A match of rule `rule` for `source` at `now`; true when the rule fires.
  bool Match(size_t rule, int source, const std::optional<config::Rate>& threshold, absl::Time now);
  // The rules changed (a reload): every count starts again.
  void Clear() { windows_.clear(); }

 private:
  absl::flat_hash_map<std::pair<size_t, int>, std::deque<absl::Time>> windows_;
};

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_RULE_TRIGGER_H_
