#include "engine/metrics/registry.h"

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace volley::metrics {
namespace {

void AppendEscaped(absl::string_view value, std::string* out) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

absl::string_view KindName(int kind) {
  static constexpr absl::string_view kNames[] = {"counter", "gauge", "histogram"};
  return kNames[kind];
}

}  // namespace

Counter::Counter(int shards)
    : slot_count_(static_cast<size_t>(shards) + 1), slots_(new Slot[slot_count_]) {}

uint64_t Counter::Value() const {
  uint64_t total = 0;
  for (size_t i = 0; i < slot_count_; ++i) total += slots_[i].value.load(std::memory_order_relaxed);
  return total;
}

std::string SeriesName(absl::string_view name, const Labels& labels) {
  std::string out(name);
  if (labels.empty()) return out;
  out.push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out.push_back(',');
    absl::StrAppend(&out, labels[i].first, "=\"");
    AppendEscaped(labels[i].second, &out);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

Registry::Registry(int shards) : shards_(shards) {}

Registry::Family& Registry::FamilyFor(absl::string_view name, absl::string_view help, Kind kind) {
  for (Family& family : families_) {
    if (family.name != name) continue;
    DCHECK(family.kind == kind && family.help == help)
        << "metric family " << name << " registered twice differently";
    return family;
  }
  families_.push_back(Family{std::string(name), std::string(help), kind, {}});
  return families_.back();
}

Counter& Registry::AddCounter(absl::string_view name, absl::string_view help, Labels labels) {
  Family& family = FamilyFor(name, help, Kind::kCounter);
  Series& series = family.series.emplace_back();
  series.labels = std::move(labels);
  series.counter = std::make_unique<Counter>(shards_);
  return *series.counter;
}

Gauge& Registry::AddGauge(absl::string_view name, absl::string_view help, Labels labels) {
  Family& family = FamilyFor(name, help, Kind::kGauge);
  Series& series = family.series.emplace_back();
  series.labels = std::move(labels);
  series.gauge = std::make_unique<Gauge>();
  return *series.gauge;
}

Histogram& Registry::AddHistogram(absl::string_view name, absl::string_view help,
                                  std::vector<double> bounds) {
  Family& family = FamilyFor(name, help, Kind::kHistogram);
  DCHECK(family.series.empty()) << "histogram " << name << " takes no labels";
  Series& series = family.series.emplace_back();
  series.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *series.histogram;
}

void Registry::Render(std::string* out) const {
  for (const Family& family : families_) {
    if (family.kind == Kind::kHistogram) {
      family.series.front().histogram->Render(family.name, family.help, out);
      continue;
    }
    absl::StrAppend(out, "# HELP ", family.name, " ", family.help, "\n# TYPE ", family.name, " ",
                    KindName(static_cast<int>(family.kind)), "\n");
    for (const Series& series : family.series) {
      absl::StrAppend(
          out, SeriesName(family.name, series.labels), " ",
          series.counter ? static_cast<int64_t>(series.counter->Value()) : series.gauge->Value(),
          "\n");
    }
  }
}

}  // namespace volley::metrics
