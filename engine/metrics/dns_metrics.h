// The resolvers' counters in Prometheus form, summed over the shards: each shard has its own
// resolver and cache.
#ifndef VOLLEY_ENGINE_METRICS_DNS_METRICS_H_
#define VOLLEY_ENGINE_METRICS_DNS_METRICS_H_

#include <string>
#include <vector>

#include "dns/mx_resolver.h"

namespace volley {

// Appends volley_dns_lookups_total{type,result}, volley_dns_cache_hits_total,
// volley_dns_stale_answers_total, volley_dns_coalesced_total and the
// volley_dns_lookup_seconds histogram. Safe while the shards run (relaxed atomics).
void AppendDnsMetrics(const std::vector<const dns::ResolverStats*>& shards, std::string* out);

}  // namespace volley

#endif  // VOLLEY_ENGINE_METRICS_DNS_METRICS_H_
