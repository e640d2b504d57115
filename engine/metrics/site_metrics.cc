#include "engine/metrics/site_metrics.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"

namespace volley::metrics {
namespace {

constexpr absl::string_view kOther = "other";

// A label value in the exposition format: backslash, double quote and line feed escaped.
std::string LabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void AddCounts(const ThrottleCounts& from, ThrottleCounts* to) {
  for (const auto& [limit, n] : from) (*to)[limit] += n;
}

// The limits of `counts`, sorted, so that the exposition is stable from scrape to scrape.
std::vector<std::string> Limits(const ThrottleCounts& counts) {
  std::vector<std::string> limits;
  for (const auto& [limit, n] : counts) limits.push_back(limit);
  std::sort(limits.begin(), limits.end());
  return limits;
}

// The `limit` busiest sites, then "other" with the rest summed.
std::vector<std::pair<std::string, SiteTotals>> TopSites(const SiteScrape& scrape, int limit) {
  std::vector<const std::pair<const std::string, SiteTotals>*> all;
  for (const auto& entry : scrape.sites) all.push_back(&entry);
  // Busiest first: the most recipients queued or in flight now; among equally busy ones (idle,
  // say) those that waited most, which keeps a counter's site named while it pauses.
  auto waited = [](const SiteTotals& t) {
    uint64_t n = 0;
    for (const auto& [limit, count] : t.throttled) n += count;
    return n;
  };
  auto rank = [&](const SiteTotals& t) {
    return std::make_tuple(t.ready + t.in_flight, waited(t), t.connections);
  };
  std::sort(all.begin(), all.end(), [&](const auto* a, const auto* b) {
    const auto ra = rank(a->second);
    const auto rb = rank(b->second);
    if (ra != rb) return ra > rb;
    return a->first < b->first;
  });
  std::vector<std::pair<std::string, SiteTotals>> top;
  SiteTotals other;
  ThrottleCounts named;  // throttled at the named sites
  for (size_t i = 0; i < all.size(); ++i) {
    if (i < static_cast<size_t>(limit) && all[i]->first != kOther) {
      top.emplace_back(all[i]->first, all[i]->second);
      AddCounts(all[i]->second.throttled, &named);
    } else {
      other.ready += all[i]->second.ready;
      other.in_flight += all[i]->second.in_flight;
      other.connections += all[i]->second.connections;
      AddCounts(all[i]->second.held_back, &other.held_back);
    }
  }
  for (const auto& [name, total] : scrape.throttled_total) {
    auto it = named.find(name);
    const uint64_t at_named = it == named.end() ? 0 : it->second;
    other.throttled[name] = total > at_named ? total - at_named : 0;
  }
  top.emplace_back(std::string(kOther), std::move(other));
  return top;
}

void AppendTenants(const SiteScrape& scrape, int limit, std::string* out) {
  using Entry = std::pair<std::pair<std::string, std::string>, TenantTotals>;
  std::vector<Entry> all(scrape.tenants.begin(), scrape.tenants.end());
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) {
    if (a.second.size() != b.second.size()) return a.second.size() > b.second.size();
    return a.first < b.first;
  });
  TenantTotals other;
  if (all.size() > static_cast<size_t>(limit)) {
    for (size_t i = static_cast<size_t>(limit); i < all.size(); ++i) {
      other.ready += all[i].second.ready;
      other.in_flight += all[i].second.in_flight;
    }
    all.resize(static_cast<size_t>(limit));
  }
  all.push_back(Entry{{std::string(kOther), std::string(kOther)}, other});
  Header(out, "volley_tenant_queue_size", "gauge",
         "Recipients ready or in flight, by tenant and campaign (the largest pairs; the rest "
         "as other; empty: none set).");
  for (const Entry& e : all) {
    const std::string labels = absl::StrCat("tenant=\"", LabelValue(e.first.first),
                                            "\",campaign=\"", LabelValue(e.first.second), "\"");
    absl::StrAppend(out, "volley_tenant_queue_size{", labels, ",state=\"ready\"} ", e.second.ready,
                    "\nvolley_tenant_queue_size{", labels, ",state=\"in_flight\"} ",
                    e.second.in_flight, "\n");
  }
}

}  // namespace

void AppendSiteSeries(const SiteScrape& scrape, int limit, std::string* out) {
  const std::vector<std::pair<std::string, SiteTotals>> top = TopSites(scrape, limit);
  struct Gauge {
    absl::string_view name;
    absl::string_view help;
    int64_t SiteTotals::*field;
  };
  static constexpr Gauge kGauges[] = {
      {"volley_site_connections_open", "Open outbound connections, by site.",
       &SiteTotals::connections},
      {"volley_site_ready", "Recipients in the site's ready queue.", &SiteTotals::ready},
      {"volley_site_in_flight", "Recipients in transactions to the site.", &SiteTotals::in_flight},
  };
  for (const Gauge& gauge : kGauges) {
    Header(out, gauge.name, "gauge", gauge.help);
    for (const auto& [site, totals] : top) {
      absl::StrAppend(out, gauge.name, "{site=\"", LabelValue(site), "\"} ", totals.*gauge.field,
                      "\n");
    }
  }
  struct ByLimit {
    absl::string_view name;
    absl::string_view type;
    absl::string_view help;
    ThrottleCounts SiteTotals::*field;
  };
  static constexpr ByLimit kByLimit[] = {
      {"volley_site_held_back", "gauge",
       "Site queues that a limit holds back now (a message waits for it), by site and limit.",
       &SiteTotals::held_back},
      {"volley_throttled_total", "counter",
       "Messages that waited for a limit before they were sent, by site and limit.",
       &SiteTotals::throttled},
  };
  for (const ByLimit& family : kByLimit) {
    Header(out, family.name, family.type, family.help);
    for (const auto& [site, totals] : top) {
      const ThrottleCounts& counts = totals.*family.field;
      for (const std::string& limit_name : Limits(counts)) {
        absl::StrAppend(out, family.name, "{site=\"", LabelValue(site), "\",limit=\"",
                        LabelValue(limit_name), "\"} ", counts.at(limit_name), "\n");
      }
    }
  }
  AppendTenants(scrape, limit, out);
}

}  // namespace volley::metrics
