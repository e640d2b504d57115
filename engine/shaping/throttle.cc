#include "engine/shaping/throttle.h"

#include <algorithm>

namespace volley::shaping {

Admission Throttle::TryTake(absl::Time now, uint64_t n) {
  if (n > rate_.max_burst) return Admission::NotBefore(absl::InfiniteFuture(), limit_);
  const absl::Duration interval = rate_.interval();
  const absl::Time base = std::max(tat_, now);
  const absl::Time new_tat = base + interval * static_cast<int64_t>(n);
  const absl::Time allowed_at = new_tat - interval * static_cast<int64_t>(rate_.max_burst);
  if (now < allowed_at) return Admission::NotBefore(allowed_at, limit_);
  tat_ = new_tat;
  return Admission::Go();
}

uint64_t Throttle::Available(absl::Time now) const {
  const absl::Duration interval = rate_.interval();
  const absl::Duration ahead = std::max(tat_, now) - now;
  const absl::Duration room = interval * static_cast<int64_t>(rate_.max_burst) - ahead;
  if (room < interval) return 0;
  absl::Duration unused;
  return static_cast<uint64_t>(absl::IDivDuration(room, interval, &unused));
}

void Throttle::GiveBack(uint64_t n) {
  if (tat_ == absl::InfinitePast()) return;
  tat_ -= rate_.interval() * static_cast<int64_t>(n);
}

}  // namespace volley::shaping
