#include "engine/shaping/shaper.h"

namespace volley::shaping {

Admission Shaper::AdmitConnection(int open, absl::Time now) const {
  (void)now;  // the rates to come are measured in time; the limit is not
  if (open < limits_->connection_limit) return Admission::Go();
  return Admission::NotBefore(absl::InfiniteFuture());
}

Admission Shaper::AdmitTransaction(int transactions, absl::Time now) const {
  (void)now;
  if (transactions < limits_->max_deliveries_per_connection) return Admission::Go();
  // This connection is done; a new one (if the site still has work) starts afresh.
  return Admission::NotBefore(absl::InfiniteFuture());
}

}  // namespace volley::shaping
