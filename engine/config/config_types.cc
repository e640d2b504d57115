// The configuration structs' few functions; see config_types.h.
#include "engine/config/config_types.h"

#include "absl/status/statusor.h"
#include "engine/base/logging.h"

namespace volley::config {

Config Config::Defaults() {
  Config config;
  for (absl::string_view network : {"127.0.0.0/8", "::1/128"}) {
    absl::StatusOr<Cidr> cidr = ParseCidr(network);
    CHECK(cidr.ok()) << cidr.status().ToString();
    config.inject_smtp.relay_networks.push_back(*cidr);
  }
  config.smtp_listeners = {config.inject_smtp};
  config.egress_pools["default"] =
      EgressPool{"default", {EgressSource{"default", "0.0.0.0", "", ""}}};
  config.warmup_schedules["standard"] = WarmupSchedule::Standard();
  // The shipped rules live for the whole process: nothing to own.
  config.bounce.rules = std::shared_ptr<const bounce::BounceRules>(std::shared_ptr<void>(),
                                                                   &bounce::BounceRules::Shipped());
  return config;
}

WarmupSchedule WarmupSchedule::Standard() {
  // Three weeks from 50 messages a day per provider to half a million, roughly doubling while
  // the volume is small and slowing as it grows, as the large providers' sender guidelines
  // advise; an hour may carry an eighth of its day, so one campaign cannot spend a day's
  // allowance in its first minutes.
  WarmupSchedule schedule;
  schedule.name = "standard";
  schedule.daily = {50,    100,   200,   400,   750,   1500,   3000,   5000,   8000,   12000,
                    18000, 25000, 35000, 50000, 75000, 100000, 150000, 200000, 300000, 500000};
  for (int64_t day : schedule.daily) schedule.hourly.push_back((day + 7) / 8);
  return schedule;
}

}  // namespace volley::config
