// A cap on the messages one egress source sends toward a site beyond the path's own limits:
// IP warm-up's daily and hourly caps (adaptive/warmup_ledger.h). A source whose cap is full
// opens no connection and starts no transaction there, as a paused one, until the cap's
// opening; the site's other sources take its mail meanwhile.
#ifndef VOLLEY_ENGINE_SHAPING_SOURCE_CAP_H_
#define VOLLEY_ENGINE_SHAPING_SOURCE_CAP_H_

#include <cstdint>

#include "absl/time/time.h"
#include "engine/shaping/admission.h"

namespace volley::shaping {

// Thread-safe: one source's cap toward a provider is shared by sites on every shard.
class SourceCap {
 public:
  virtual ~SourceCap() = default;
  // "Go" when one more message may leave now, or the time one may (kWarmup).
  virtual Admission Peek(absl::Time now) = 0;
  // As Peek, and a "go" counts the message.
  virtual Admission Take(absl::Time now) = 0;
  // Uncounts a message Take counted at `now` that did not leave after all.
  virtual void Return(absl::Time now) = 0;
  // How many messages may leave now (INT64_MAX: no cap holds the source).
  virtual int64_t Available(absl::Time now) = 0;
};

}  // namespace volley::shaping

#endif  // VOLLEY_ENGINE_SHAPING_SOURCE_CAP_H_
