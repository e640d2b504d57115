// Closed-loop control of a site's egress paths: one AimdController (adaptive/aimd.h) per source
// of the site's pool, fed by the site queue with each transaction's outcome and latency and
// with the congestion it meets, and applied to the site's limits (`adaptive = true`, the
// default): a path's connection_limit becomes its controller's, its rates scale with it. Every
// cut, and the return to the configured limit, is logged.
#ifndef VOLLEY_ENGINE_DELIVERY_PATH_CONTROL_H_
#define VOLLEY_ENGINE_DELIVERY_PATH_CONTROL_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/adaptive/aimd.h"
#include "engine/config/config.h"

namespace volley::delivery {

// Owned by a SiteQueue; its shard's loop.
class PathControl {
 public:
  using Signal = adaptive::AimdController::Signal;

  // `limits` (one per source of `sources`, the configured ones with rule overrides) set each
  // controller's range; returns them with the controllers' limits applied where `adaptive` is
  // on. `site` and the sources' names are what the log says.
  std::vector<config::ShapingConfig> Apply(std::vector<config::ShapingConfig> limits,
                                           absl::string_view site,
                                           const std::vector<config::EgressSource>& sources);

  // What the site queue saw on `source`'s path; true when its limit changed (the caller then
  // applies the limits again).
  bool OnSuccess(int source, absl::Duration latency, int in_use, absl::Time now);
  bool OnCongestion(int source, Signal signal, absl::string_view detail, absl::Time now);

  // Per source, for the explain read-out: {"source", "adaptive", "connection_limit",
  // "configured_connection_limit", "last_signal", "detail", "changed_at", "increase_after",
  // "latency_ms", "latency_baseline_ms"}.
  std::vector<std::string> Json(absl::Time now) const;
  // When a path below its configured limit may grow again (infinite: none is held).
  absl::Time NextIncrease(absl::Time now) const;

 private:
  struct Path {
    adaptive::AimdController controller;
    bool enabled = true;
    int configured = 0;       // the ceiling
    bool logged_cut = false;  // a cut was logged, and the return to the ceiling is not yet
    std::string name;         // the source's
  };
  // "site S from source N": the path in the log.
  std::string Name(const Path& path) const;
  void LogCut(Path& path, int before);

  std::vector<Path> paths_;
  std::string site_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_PATH_CONTROL_H_
