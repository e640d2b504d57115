#include "engine/delivery/retry_policy.h"

#include <algorithm>

#include "absl/random/distributions.h"

namespace volley::delivery {

absl::Duration RetryPolicy::Delay(uint32_t attempts) {
  absl::Duration delay = config_.retry_initial;
  for (uint32_t i = 1; i < attempts && delay < config_.retry_max; ++i) delay *= 2;
  delay = std::min(delay, config_.retry_max);
  return delay * absl::Uniform(rng_, 0.9, 1.1);
}

std::optional<absl::Time> RetryPolicy::NextAttempt(uint32_t attempts, absl::Time created,
                                                   absl::Time now) {
  const absl::Time next = now + Delay(attempts);
  if (next >= ExpiresAt(created)) return std::nullopt;
  return next;
}

}  // namespace volley::delivery
