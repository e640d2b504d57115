// Rates such as "100/s", "5000/h" or "20/m,max_burst=5" ([shaping] max_message_rate and
// max_connection_rate, named throttles), in KumoMTA's throttle syntax so that its users can
// carry their values over. The rate is enforced by shaping::Throttle (a GCRA).
#ifndef VOLLEY_ENGINE_CONFIG_RATE_H_
#define VOLLEY_ENGINE_CONFIG_RATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::config {

// `quantity` events per `period`, of which up to `max_burst` may happen back to back.
struct Rate {
  uint64_t quantity = 1;
  absl::Duration period = absl::Seconds(1);
  // Without ",max_burst=N" this is `quantity`: the whole period's allowance may be spent at
  // once (KumoMTA's default). 1 spaces events evenly, one per period/quantity.
  uint64_t max_burst = 1;

  // The steady spacing of events: period / quantity, rounded up (by a nanosecond at most).
  absl::Duration interval() const;
  // The canonical form: "100/s", "20/m,max_burst=5", "3/5m".
  std::string ToString() const;
  friend bool operator==(const Rate&, const Rate&) = default;
};

// Parses "QUANTITY/PERIOD[,max_burst=N]". QUANTITY is a whole number of at least 1 and may group
// digits with ',' or '_' ("1,000/h"); PERIOD is a unit (s, sec, second, m, min, minute, h, hr,
// hour, d, day) or a duration ("5m", "30s"). "" is no limit at all (nullopt).
absl::StatusOr<std::optional<Rate>> ParseRateValue(absl::string_view text);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_RATE_H_
