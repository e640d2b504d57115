// Traffic shaping: what a site may do now. Before it opens a connection or starts a
// transaction, a site asks its Shaper and gets "go" or "not before T". Today's limits are
// connection_limit (concurrent connections to the site) and max_deliveries_per_connection
// (transactions on one connection); message and connection rates, suspensions and adaptive
// control come in behind the same two questions.
#ifndef VOLLEY_ENGINE_SHAPING_SHAPER_H_
#define VOLLEY_ENGINE_SHAPING_SHAPER_H_

#include "absl/time/time.h"
#include "engine/config/config.h"

namespace volley::shaping {

// The answer to "may I now?".
class Admission {
 public:
  static Admission Go() { return Admission(absl::InfinitePast()); }
  // Not before `when`; absl::InfiniteFuture() means "not until something changes" (a
  // connection closes), which the site notices by itself.
  static Admission NotBefore(absl::Time when) { return Admission(when); }

  bool go() const { return not_before_ == absl::InfinitePast(); }
  absl::Time not_before() const { return not_before_; }

 private:
  explicit Admission(absl::Time not_before) : not_before_(not_before) {}
  absl::Time not_before_;
};

// One per site, owned by the site's queue. All calls on the owning shard's loop.
class Shaper {
 public:
  // `limits` points into the process's Config, which outlives every shard.
  explicit Shaper(const config::ShapingConfig* limits) : limits_(limits) {}

  // The limits changed (the site's latest resolution carries the domain's shaping table).
  void set_limits(const config::ShapingConfig* limits) { limits_ = limits; }

  // A new connection, when `open` connections (established or connecting) exist.
  Admission AdmitConnection(int open, absl::Time now) const;
  // Another transaction on a connection that has completed `transactions` already.
  Admission AdmitTransaction(int transactions, absl::Time now) const;

  int connection_limit() const { return limits_->connection_limit; }
  int max_recipients_per_batch() const { return limits_->max_recipients_per_batch; }
  const config::ShapingConfig& limits() const { return *limits_; }

 private:
  const config::ShapingConfig* limits_;
};

}  // namespace volley::shaping

#endif  // VOLLEY_ENGINE_SHAPING_SHAPER_H_
