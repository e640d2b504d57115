#include "engine/delivery/site_explain.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/json.h"

namespace volley::delivery {
namespace {

std::string StringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, items[i]);
  }
  out.push_back(']');
  return out;
}

void RateField(JsonObjectWriter& w, absl::string_view key,
               const std::optional<config::Rate>& rate) {
  if (rate.has_value()) {
    w.String(key, rate->ToString());
  } else {
    w.Null(key);
  }
}

std::string SourcesJson(const SiteSnapshot& snapshot) {
  const SiteShaping& shaping = *snapshot.route->shaping;
  std::string out = "[";
  for (size_t i = 0; i < shaping.by_source.size(); ++i) {
    const config::ShapingConfig& limits =
        i < snapshot.effective.size() ? snapshot.effective[i] : shaping.by_source[i];
    if (i > 0) out.push_back(',');
    JsonObjectWriter w(&out);
    w.String("source", shaping.pool->sources[i].name);
    w.Int("open_connections", i < snapshot.open_by_source.size() ? snapshot.open_by_source[i] : 0);
    w.Int("connection_limit", limits.connection_limit);
    RateField(w, "max_connection_rate", limits.max_connection_rate);
    RateField(w, "max_message_rate", limits.max_message_rate);
    w.Int("max_deliveries_per_connection", limits.max_deliveries_per_connection);
    w.Int("max_recipients_per_batch", limits.max_recipients_per_batch);
    std::vector<std::string> shared;
    for (const config::SharedLimitSpec& spec : limits.shared_limits) shared.push_back(spec.name);
    w.Raw("shared_limits", StringArray(shared));
    w.Raw("rules", StringArray(i < shaping.rules_by_source.size() ? shaping.rules_by_source[i]
                                                                  : std::vector<std::string>()));
    w.Finish();
  }
  out.push_back(']');
  return out;
}

}  // namespace

std::string SiteSnapshotJson(const SiteSnapshot& snapshot) {
  std::string out;
  JsonObjectWriter w(&out);
  w.String("key", snapshot.key);
  w.String("site", snapshot.name);
  w.Uint("ready", snapshot.ready);
  w.Uint("in_flight", snapshot.in_flight);
  w.Uint("connections", snapshot.connections);
  if (snapshot.held_by.empty()) {
    w.Null("held_back");
  } else {
    w.BeginObject("held_back");
    w.String("limit", snapshot.held_by);
    w.TimeOrNull("until", snapshot.held_until);
    w.EndObject();
  }
  if (snapshot.route != nullptr) {
    const SiteShaping& shaping = *snapshot.route->shaping;
    w.String("egress_pool", shaping.site.egress_pool);
    if (shaping.site.provider.empty()) {
      w.Null("provider");
    } else {
      w.String("provider", shaping.site.provider);
    }
    w.Raw("sources", SourcesJson(snapshot));
  }
  std::vector<std::pair<std::string, uint64_t>> throttled(snapshot.throttled.begin(),
                                                          snapshot.throttled.end());
  std::sort(throttled.begin(), throttled.end());
  w.BeginObject("throttled");
  for (const auto& [limit, n] : throttled) w.Uint(limit, n);
  w.EndObject();
  w.Uint("suspended", snapshot.suspended)
      .Raw("suspensions", absl::StrCat("[", absl::StrJoin(snapshot.suspensions, ","), "]"));
  w.Raw("overrides", absl::StrCat("[", absl::StrJoin(snapshot.overrides, ","), "]"));
  w.Raw("adaptive", absl::StrCat("[", absl::StrJoin(snapshot.adaptive, ","), "]"));
  w.Raw("warmup", absl::StrCat("[", absl::StrJoin(snapshot.warmup, ","), "]"));
  w.TimeOrNull("next_change", snapshot.next_change);
  w.Finish();
  return out;
}

}  // namespace volley::delivery
