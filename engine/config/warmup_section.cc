// [warmup.*]; see warmup_section.h.
#include "engine/config/warmup_section.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

// A schedule has at most a year of days: a longer one is a mistake, not a warm-up.
constexpr int64_t kMaxDays = 366;

// An array of positive message counts, one per day; nullopt (reported) otherwise.
std::optional<std::vector<int64_t>> ReadCaps(const toml::node& value, absl::string_view what,
                                             ConfigParser& parser) {
  const toml::array* array = value.as_array();
  if (array == nullptr || array->empty() || static_cast<int64_t>(array->size()) > kMaxDays) {
    parser.AddError(value, absl::StrCat(what, ": expected an array of 1 to ", kMaxDays,
                                        " message counts, one per day"));
    return std::nullopt;
  }
  std::vector<int64_t> caps;
  bool ok = true;
  for (const toml::node& element : *array) {
    std::optional<int64_t> n = parser.ReadInteger(element, what, 1, INT32_MAX);
    if (!n.has_value()) {
      ok = false;
      continue;
    }
    caps.push_back(*n);
  }
  if (!ok) return std::nullopt;
  return caps;
}

// A rate from 0 to 1 ("0.05" is 5%).
std::optional<double> ReadFraction(const toml::node& value, absl::string_view what,
                                   ConfigParser& parser) {
  const std::optional<double> f = value.value<double>();
  if (!f.has_value() || !(*f >= 0 && *f <= 1)) {
    parser.AddError(value,
                    absl::StrCat(what, ": expected a rate from 0 to 1, such as 0.05 for 5%"));
    return std::nullopt;
  }
  return f;
}

// One [warmup."NAME"] table.
void ParseSchedule(const toml::key& key, const toml::node& value, ConfigParser& parser,
                   Config& config) {
  const std::string what = absl::StrCat("[warmup.", QuoteKey(key.str()), "]");
  const toml::table* table = parser.ExpectTable(value, what);
  if (table == nullptr) return;
  WarmupSchedule schedule;
  schedule.name = std::string(AsAbsl(key.str()));
  bool ok = true;
  bool has_daily = false;
  const toml::node* hourly_at = nullptr;
  uint32_t step_back_line = 0;
  auto caps = [&](std::vector<int64_t>* out, absl::string_view name) {
    return [&, out, name](const toml::node& v) {
      std::optional<std::vector<int64_t>> read = ReadCaps(v, absl::StrCat(what, " ", name), parser);
      if (read.has_value()) *out = *std::move(read);
      ok = ok && read.has_value();
    };
  };
  auto fraction = [&](double* out, absl::string_view name) {
    return [&, out, name](const toml::node& v) {
      std::optional<double> read = ReadFraction(v, absl::StrCat(what, " ", name), parser);
      if (read.has_value()) *out = *read;
      ok = ok && read.has_value();
    };
  };
  std::vector<ConfigParser::Field> fields = {
      {"daily",
       [&](const toml::node& v) {
         has_daily = true;
         caps(&schedule.daily, "daily")(v);
       }},
      {"hourly",
       [&](const toml::node& v) {
         hourly_at = &v;
         caps(&schedule.hourly, "hourly")(v);
       }},
      {"hold_above", fraction(&schedule.hold_above, "hold_above")},
      {"step_back_above",
       [&](const toml::node& v) {
         step_back_line = v.source().begin.line;
         fraction(&schedule.step_back_above, "step_back_above")(v);
       }},
  };
  parser.Walk(*table, absl::StrCat("warmup.", QuoteKey(key.str())), fields, {});
  if (!has_daily) {
    parser.AddError(key, absl::StrCat(what, ": missing key 'daily'"));
    return;
  }
  if (!ok) return;
  if (hourly_at == nullptr) {
    // By default an hour may carry an eighth of its day (rounded up).
    for (int64_t day : schedule.daily) schedule.hourly.push_back((day + 7) / 8);
  } else if (schedule.hourly.size() != schedule.daily.size()) {
    parser.AddError(*hourly_at, absl::StrCat(what, " hourly: has ", schedule.hourly.size(),
                                             " days but daily has ", schedule.daily.size()));
    return;
  } else {
    for (size_t i = 0; i < schedule.daily.size(); ++i) {
      if (schedule.hourly[i] > schedule.daily[i]) {
        parser.AddError(*hourly_at,
                        absl::StrCat(what, " hourly: day ", i + 1, " allows ", schedule.hourly[i],
                                     " an hour but only ", schedule.daily[i], " a day"));
        return;
      }
    }
  }
  if (schedule.step_back_above <= schedule.hold_above) {
    parser.AddError(step_back_line != 0 ? step_back_line : key.source().begin.line,
                    absl::StrCat(what, " step_back_above (", schedule.step_back_above,
                                 ") must be above hold_above (", schedule.hold_above, ")"));
    return;
  }
  config.warmup_schedules[schedule.name] = std::move(schedule);
}

}  // namespace

void ParseWarmupSection(const toml::table& table, ConfigParser& parser, Config& config) {
  for (auto&& [key, value] : table) ParseSchedule(key, value, parser, config);
}

}  // namespace volley::config
