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
  config.egress_pools["default"] = EgressPool{"default", {EgressSource{"default", "0.0.0.0", ""}}};
  return config;
}

}  // namespace volley::config
