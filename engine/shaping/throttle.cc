#include "engine/shaping/throttle.h"

#include <algorithm>

namespace volley::shaping {

Admission Throttle::Check(absl::Time now, uint64_t n, absl::Time* new_tat) const {
  if (n > rate_.max_burst) return Admission::NotBefore(absl::InfiniteFuture(), limit_);
  const absl::Duration interval = rate_.interval();
  *new_tat = std::max(tat_, now) + interval * static_cast<int64_t>(n);
  const absl::Time allowed_at = *new_tat - interval * static_cast<int64_t>(rate_.max_burst);
  if (now < allowed_at) return Admission::NotBefore(allowed_at, limit_);
  return Admission::Go();
}

Admission Throttle::TryTake(absl::Time now, uint64_t n) {
  absl::Time new_tat;
  const Admission admission = Check(now, n, &new_tat);
  if (admission.go()) tat_ = new_tat;
  return admission;
}

Admission Throttle::Peek(absl::Time now, uint64_t n) const {
  absl::Time new_tat;
  return Check(now, n, &new_tat);
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
