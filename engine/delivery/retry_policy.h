// When a recipient is tried again after a transient failure, and when it expires.
#ifndef VOLLEY_ENGINE_DELIVERY_RETRY_POLICY_H_
#define VOLLEY_ENGINE_DELIVERY_RETRY_POLICY_H_

#include <cstdint>
#include <optional>

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"
#include "engine/config/config.h"

namespace volley::delivery {

// Exponential backoff from [delivery] retry_initial, doubling with each attempt up to retry_max,
// with +-10% jitter so that a burst of failures does not come back as a burst; a message older
// than max_age expires. Pure: the caller passes the time; the random source is injected (tests
// give a seeded one). Not thread-safe (the generator is not); one per shard.
class RetryPolicy {
 public:
  // `config` and `rng`'s generator outlive the policy.
  RetryPolicy(const config::DeliveryConfig& config, absl::BitGenRef rng)
      : config_(config), rng_(rng) {}

  // The wait after the `attempts`-th failed attempt (1 for the first): retry_initial *
  // 2^(attempts-1), capped at retry_max, times a factor in [0.9, 1.1).
  absl::Duration Delay(uint32_t attempts);

  absl::Time ExpiresAt(absl::Time created) const { return created + config_.max_age; }
  bool Expired(absl::Time created, absl::Time now) const { return now >= ExpiresAt(created); }

  // The next attempt after the `attempts`-th failed one at `now`, or nullopt when the message
  // would be past max_age by then: no attempt could happen in between, so it expires now.
  std::optional<absl::Time> NextAttempt(uint32_t attempts, absl::Time created, absl::Time now);

 private:
  const config::DeliveryConfig& config_;
  absl::BitGenRef rng_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_RETRY_POLICY_H_
