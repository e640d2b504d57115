// See shaping_types.h.
#include "engine/config/shaping_types.h"

namespace volley::config {

absl::string_view TlsPolicyName(TlsPolicy policy) {
  switch (policy) {
    case TlsPolicy::kDisabled:
      return "disabled";
    case TlsPolicy::kOpportunistic:
      return "opportunistic";
    case TlsPolicy::kRequired:
      return "required";
    case TlsPolicy::kRequiredVerify:
      return "required_verify";
    case TlsPolicy::kImplicit:
      return "implicit";
  }
  return "?";
}

}  // namespace volley::config
