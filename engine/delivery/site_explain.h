// The explain read-out of a site queue (GET /api/admin/explain/v1?site=...): what it holds, the
// limits in force for each egress source and the tables they came from, and which limit holds
// it back now.
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_EXPLAIN_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_EXPLAIN_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/delivery/site_route.h"
#include "engine/metrics/site_metrics.h"

namespace volley::delivery {

// A site queue's state at one moment (SiteQueue::Snapshot), copied off its loop.
struct SiteSnapshot {
  std::string key;
  std::string name;
  size_t ready = 0;
  size_t in_flight = 0;
  size_t connections = 0;
  std::string held_by;  // the limit holding the front message back, "" when none
  absl::Time held_until = absl::InfiniteFuture();  // infinite: until a connection frees up
  std::shared_ptr<const SiteRoute> route;          // its limits; null before any recipient
  std::vector<int> open_by_source;                 // connections counted per source
  // The limits in force per source: the route's with response rules' overrides (empty: the
  // route's).
  std::vector<config::ShapingConfig> effective;
  metrics::ThrottleCounts throttled;
  size_t suspended = 0;  // of `ready`: held back by a suspension
  // The suspensions in force that concern the site, as SuspensionJson writes them.
  std::vector<std::string> suspensions;
  // Limits response rules override now: {"source", "key", "value", "until", "rule"}.
  std::vector<std::string> overrides;
  absl::Time next_change = absl::InfiniteFuture();  // when a limit changes by itself
  // Path control per source (PathControl::Json).
  std::vector<std::string> adaptive;
  // The warming sources' warm-up toward the site's provider (WarmupState::ExplainJson).
  std::vector<std::string> warmup;
};

// One JSON object:
//   {"key", "site", "ready", "in_flight", "connections",
//    "held_back": {"limit", "until": RFC 3339 | null} | null, "egress_pool", "provider" | null,
//    "sources": [{"source", "open_connections", "connection_limit", "max_connection_rate",
//                 "max_message_rate" (null: unlimited), "max_deliveries_per_connection",
//                 "max_recipients_per_batch", "shared_limits": [...], "rules": [...]}],
//    "throttled": {"limit": n, ...}, "suspended": n, "suspensions": [SuspensionJson...],
//    "overrides": [{"source", "key", "value", "until", "rule"}],
//    "adaptive": [{"source", "adaptive", "connection_limit", "configured_connection_limit",
//                  "last_signal", "detail", "changed_at", "increase_after", "latency_ms",
//                  "latency_baseline_ms"}],
//    "warmup": [{"source", "provider", "schedule", "day", "days", "warm", "daily_cap",
//                "hourly_cap", "sent_today", "sent_last_hour", "tried_today", "deferred_today",
//                "last_verdict", "started", "next_opening"}],
//    "next_change": RFC 3339 | null}
// `next_change` is when a limit changes by itself (an override ends, a path cut back may grow
// again, a full warm-up cap opens); null when none will.
std::string SiteSnapshotJson(const SiteSnapshot& snapshot);

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_EXPLAIN_H_
