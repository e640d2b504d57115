// The answer a shaping limit gives to "may I now?".
#ifndef VOLLEY_ENGINE_SHAPING_ADMISSION_H_
#define VOLLEY_ENGINE_SHAPING_ADMISSION_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::shaping {

// The names of the per-path limits, as admissions, metrics and read-outs give them (the config
// keys they come from).
inline constexpr absl::string_view kConnectionLimit = "connection_limit";
inline constexpr absl::string_view kConnectionRate = "max_connection_rate";
inline constexpr absl::string_view kDeliveriesPerConnection = "max_deliveries_per_connection";
inline constexpr absl::string_view kMessageRate = "max_message_rate";
// Not a limit: a suspension of the site, or of its source.
inline constexpr absl::string_view kSuspension = "suspension";
// Not a limit either: a warming egress source's cap (adaptive/warmup_state.h).
inline constexpr absl::string_view kWarmup = "warmup";

class Admission {
 public:
  static Admission Go() { return Admission(absl::InfinitePast(), ""); }
  // Not before `when`; absl::InfiniteFuture() means "not until something changes" (a
  // connection closes), which the site notices by itself. `limit` names the limit that said no
  // ("connection_limit", "max_message_rate", ...), as metrics and read-outs show it; it must be
  // a string literal.
  static Admission NotBefore(absl::Time when, absl::string_view limit) {
    return Admission(when, limit);
  }

  bool go() const { return not_before_ == absl::InfinitePast(); }
  absl::Time not_before() const { return not_before_; }
  absl::string_view limit() const { return limit_; }

 private:
  Admission(absl::Time not_before, absl::string_view limit)
      : not_before_(not_before), limit_(limit) {}
  absl::Time not_before_;
  absl::string_view limit_;
};

}  // namespace volley::shaping

#endif  // VOLLEY_ENGINE_SHAPING_ADMISSION_H_
