#include "engine/delivery/path_control.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/json.h"
#include "engine/base/logging.h"

namespace volley::delivery {
namespace {

// A rate scaled down with the window: at least one event per period.
void Scale(std::optional<config::Rate>& rate, double fraction) {
  if (!rate.has_value() || fraction >= 1.0) return;
  rate->quantity = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::floor(static_cast<double>(rate->quantity) * fraction)));
  rate->max_burst = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::floor(static_cast<double>(rate->max_burst) * fraction)));
}

}  // namespace

std::vector<config::ShapingConfig> PathControl::Apply(
    std::vector<config::ShapingConfig> limits, absl::string_view site,
    const std::vector<config::EgressSource>& sources) {
  site_ = std::string(site);
  paths_.resize(limits.size());
  for (size_t i = 0; i < limits.size(); ++i) {
    config::ShapingConfig& c = limits[i];
    Path& path = paths_[i];
    path.name = i < sources.size() ? sources[i].name : "";
    path.enabled = c.adaptive;
    path.configured = c.connection_limit;
    path.controller.Configure(c.connection_limit, c.adaptive_min_connections,
                              c.adaptive_decrease_factor);
    if (!path.enabled) continue;
    c.connection_limit = path.controller.connection_limit();
    Scale(c.max_message_rate, path.controller.fraction());
    Scale(c.max_connection_rate, path.controller.fraction());
  }
  return limits;
}

bool PathControl::OnSuccess(int source, absl::Duration latency, int in_use, absl::Time now) {
  if (source < 0 || static_cast<size_t>(source) >= paths_.size()) return false;
  Path& path = paths_[static_cast<size_t>(source)];
  if (!path.enabled) return false;
  const int before = path.controller.connection_limit();
  const bool changed = path.controller.OnSuccess(latency, in_use, now);
  if (changed && path.controller.connection_limit() < before) {
    LogCut(path, before);  // the latency rose
  } else if (changed && path.controller.at_limit() && path.logged_cut) {
    path.logged_cut = false;
    LOG(INFO) << "adaptive: " << Name(path) << ": back at its connection_limit " << path.configured;
  }
  return changed;
}

std::string PathControl::Name(const Path& path) const {
  return absl::StrCat("site ", site_, " from source ", path.name);
}

bool PathControl::OnCongestion(int source, Signal signal, absl::string_view detail,
                               absl::Time now) {
  if (source < 0 || static_cast<size_t>(source) >= paths_.size()) return false;
  Path& path = paths_[static_cast<size_t>(source)];
  if (!path.enabled) return false;
  const int before = path.controller.connection_limit();
  if (!path.controller.OnCongestion(signal, detail, now)) return false;
  LogCut(path, before);
  return true;
}

void PathControl::LogCut(Path& path, int before) {
  const adaptive::AimdController& c = path.controller;
  path.logged_cut = true;
  LOG(INFO) << "adaptive: " << Name(path) << ": connection_limit " << before << " -> "
            << c.connection_limit() << " (" << adaptive::AimdController::SignalName(c.last_signal())
            << ": " << c.last_detail() << "); may grow again from " << Rfc3339(c.increase_after());
}

absl::Time PathControl::NextIncrease(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  for (const Path& path : paths_) {
    const adaptive::AimdController& c = path.controller;
    if (path.enabled && !c.at_limit() && c.increase_after() > now) {
      next = std::min(next, c.increase_after());
    }
  }
  return next;
}

std::vector<std::string> PathControl::Json(absl::Time now) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < paths_.size(); ++i) {
    const Path& path = paths_[i];
    const adaptive::AimdController& c = path.controller;
    std::string json;
    JsonObjectWriter w(&json);
    w.String("source", path.name)
        .Bool("adaptive", path.enabled)
        .Int("connection_limit", path.enabled ? c.connection_limit() : path.configured)
        .Int("configured_connection_limit", path.configured)
        .String("last_signal", adaptive::AimdController::SignalName(c.last_signal()))
        .String("detail", c.last_detail());
    w.TimeOrNull("changed_at", c.changed_at());
    // When it may grow again: null when it is at its ceiling or may grow now.
    w.TimeOrNull("increase_after", c.at_limit() || c.increase_after() <= now
                                       ? absl::InfiniteFuture()
                                       : c.increase_after());
    w.Double("latency_ms", absl::ToDoubleMilliseconds(c.latency()));
    if (c.latency_baseline() == absl::InfiniteDuration()) {
      w.Null("latency_baseline_ms");
    } else {
      w.Double("latency_baseline_ms", absl::ToDoubleMilliseconds(c.latency_baseline()));
    }
    w.Finish();
    out.push_back(std::move(json));
  }
  return out;
}

}  // namespace volley::delivery
