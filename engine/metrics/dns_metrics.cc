#include "engine/metrics/dns_metrics.h"

#include "absl/strings/str_cat.h"
#include "engine/base/histogram.h"

namespace volley {
namespace {

void Counter(std::string* out, absl::string_view name, absl::string_view help, uint64_t value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n", name, " ",
                  value, "\n");
}

}  // namespace

void AppendDnsMetrics(const std::vector<const dns::ResolverStats*>& shards, std::string* out) {
  absl::StrAppend(out,
                  "# HELP volley_dns_lookups_total DNS queries answered, by record type and "
                  "result.\n# TYPE volley_dns_lookups_total counter\n");
  for (size_t t = 0; t < dns::kQueryTypeCount; ++t) {
    for (size_t r = 0; r < dns::kQueryResultCount; ++r) {
      const auto type = static_cast<dns::QueryType>(t);
      const auto result = static_cast<dns::QueryResult>(r);
      uint64_t total = 0;
      for (const dns::ResolverStats* stats : shards) total += stats->Lookups(type, result);
      absl::StrAppend(out, "volley_dns_lookups_total{type=\"", dns::QueryTypeLabel(type),
                      "\",result=\"", dns::QueryResultLabel(result), "\"} ", total, "\n");
    }
  }
  uint64_t hits = 0, stale = 0, coalesced = 0;
  for (const dns::ResolverStats* stats : shards) {
    hits += stats->cache_hits.load(std::memory_order_relaxed);
    stale += stats->stale_served.load(std::memory_order_relaxed);
    coalesced += stats->coalesced.load(std::memory_order_relaxed);
  }
  Counter(out, "volley_dns_cache_hits_total", "Resolutions answered from the cache.", hits);
  Counter(out, "volley_dns_stale_answers_total",
          "Resolutions answered with an expired entry because the resolver failed.", stale);
  Counter(out, "volley_dns_coalesced_total", "Resolutions that joined a lookup already in flight.",
          coalesced);
  if (shards.empty()) return;
  Histogram merged(shards.front()->lookup_seconds.bounds());
  for (const dns::ResolverStats* stats : shards) merged.MergeFrom(stats->lookup_seconds);
  merged.Render("volley_dns_lookup_seconds", "DNS query round trips (or timeouts).", out);
}

}  // namespace volley
