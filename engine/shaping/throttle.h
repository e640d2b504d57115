// A rate limit as a Generic Cell Rate Algorithm (the ATM Forum's GCRA, as KumoMTA's throttles):
// the whole state is one time, the theoretical arrival time (TAT) of the next event at the
// steady rate. An event is allowed when taking it keeps the TAT no further ahead of now than
// max_burst intervals, so bursts of up to max_burst pass back to back and the long-run rate
// never exceeds quantity per period. In any window of length w at most
// 1 + floor((w + (max_burst - 1) * interval) / interval) events pass.
#ifndef VOLLEY_ENGINE_SHAPING_THROTTLE_H_
#define VOLLEY_ENGINE_SHAPING_THROTTLE_H_

#include <cstdint>

#include "absl/time/time.h"
#include "engine/config/rate.h"
#include "engine/shaping/admission.h"

namespace volley::shaping {

// Not thread-safe: owned and used on one shard's loop.
class Throttle {
 public:
  // `limit` names the limit in the admissions it refuses; it must outlive the throttle (a
  // string literal, or a name the owner keeps).
  Throttle(const config::Rate& rate, absl::string_view limit) : rate_(rate), limit_(limit) {}

  // Takes `n` events if the rate allows them at `now`; otherwise takes nothing and says when it
  // would (never, for more than max_burst at once).
  Admission TryTake(absl::Time now, uint64_t n = 1);
  // What TryTake would answer, taking nothing.
  Admission Peek(absl::Time now, uint64_t n = 1) const;
  // How many events could be taken at `now`.
  uint64_t Available(absl::Time now) const;
  // Returns `n` events taken but not used (a lease given back), as if they had not been taken.
  void GiveBack(uint64_t n);

  // A new rate (a reload) keeps what was spent: the TAT stays, so the time the old rate's
  // events covered stays covered and a lower rate does not hand out a fresh burst.
  void set_rate(const config::Rate& rate) { rate_ = rate; }
  const config::Rate& rate() const { return rate_; }

 private:
  // The TAT after taking `n` at `now`, or the admission that refuses them.
  Admission Check(absl::Time now, uint64_t n, absl::Time* new_tat) const;

  config::Rate rate_;
  absl::string_view limit_;
  absl::Time tat_ = absl::InfinitePast();
};

}  // namespace volley::shaping

#endif  // VOLLEY_ENGINE_SHAPING_THROTTLE_H_
