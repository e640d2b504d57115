// The per-site series and those by tenant and campaign, made at scrape time from what the
// shards' queues hold (no counting on the hot path), bounded to the `limit` busiest sites
// (largest tenant x campaign pairs) with the rest summed as "other" ([http]
// site_metrics_limit):
//   volley_site_connections_open{site}, volley_site_ready{site}, volley_site_in_flight{site},
//   volley_site_held_back{site,limit} (site queues a limit holds back now),
//   volley_throttled_total{site,limit} (messages that waited for a limit, as KumoMTA's
//   delayed_due_to_*_throttle), volley_tenant_queue_size{tenant,campaign,state}.
#ifndef VOLLEY_ENGINE_METRICS_SITE_METRICS_H_
#define VOLLEY_ENGINE_METRICS_SITE_METRICS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace volley::metrics {

// Messages that waited for each limit ("max_message_rate", "connection_limit", a shared
// budget's name, ...).
using ThrottleCounts = absl::flat_hash_map<std::string, uint64_t>;

// What the queues of one site name hold now, summed over the shards.
struct SiteTotals {
  int64_t ready = 0;
  int64_t in_flight = 0;
  int64_t connections = 0;
  ThrottleCounts throttled;  // since the site's queue was made
  ThrottleCounts held_back;  // queues of the site held back now, by the limit
  void Add(const SiteTotals& other);
};

struct TenantTotals {
  int64_t ready = 0;
  int64_t in_flight = 0;
  int64_t size() const { return ready + in_flight; }
};

struct SiteScrape {
  absl::flat_hash_map<std::string, SiteTotals> sites;  // by site name, as log records show it
  // Every message that waited, by limit, since start (also at sites no longer in memory), so
  // that site="other" is what the named sites do not account for.
  ThrottleCounts throttled_total;
  // By (tenant, campaign); "" is no tenant (campaign).
  absl::flat_hash_map<std::pair<std::string, std::string>, TenantTotals> tenants;
};

// Appends the series above, `limit` sites (pairs) at most plus "other".
void AppendSiteSeries(const SiteScrape& scrape, int limit, std::string* out);

}  // namespace volley::metrics

#endif  // VOLLEY_ENGINE_METRICS_SITE_METRICS_H_
