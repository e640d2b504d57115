#include "engine/adaptive/warmup_state.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/base/json.h"
#include "nlohmann/json.hpp"

namespace volley::adaptive {
namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kDay = 24 * 60 * 60;
// A message counted in minute m may be followed by `hourly` more once minute m + 61 begins:
// then every instant of the hour before holds at most `hourly` messages.
constexpr int64_t kHourWindowMinutes = 61;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t MinuteOf(absl::Time t) { return FloorDiv(absl::ToUnixSeconds(t), kMinute); }
int64_t DayOf(absl::Time t) { return FloorDiv(absl::ToUnixSeconds(t), kDay); }

}  // namespace

void WarmupState::Roll(const config::WarmupSchedule& schedule, absl::Time now) {
  const int64_t today = DayOf(now);
  if (today > day_number_) {
    if (day_number_ >= 0 && tried_today_ > 0) {
      const double rate = static_cast<double>(deferred_today_) / static_cast<double>(tried_today_);
      const int last = static_cast<int>(schedule.daily.size());
      if (rate >= schedule.step_back_above) {
        day_ = std::max(1, std::min(day_, last + 1) - 1);
        last_verdict_ = "stepped back";
      } else if (rate >= schedule.hold_above) {
        last_verdict_ = "held";
      } else {
        day_ = std::min(day_, last) + 1;
        last_verdict_ = "advanced";
      }
    }
    day_number_ = today;
    sent_today_ = tried_today_ = deferred_today_ = 0;
  }
  const int64_t oldest = MinuteOf(now) - kHourWindowMinutes;
  while (!minutes_.empty() && minutes_.front().first <= oldest) minutes_.pop_front();
}

int64_t WarmupState::sent_last_hour(absl::Time now) const {
  const int64_t oldest = MinuteOf(now) - kHourWindowMinutes;
  int64_t sent = 0;
  for (const auto& [minute, n] : minutes_) {
    if (minute > oldest) sent += n;
  }
  return sent;
}

absl::Time WarmupState::HourOpensAt(int64_t hourly) const {
  // The oldest minutes leave the window first; once enough have left, one more fits.
  int64_t in_window = 0;
  for (const auto& [minute, n] : minutes_) in_window += n;
  for (const auto& [minute, n] : minutes_) {
    in_window -= n;
    if (in_window < hourly) return absl::FromUnixSeconds((minute + kHourWindowMinutes) * kMinute);
  }
  return absl::InfinitePast();  // not full
}

shaping::Admission WarmupState::Admit(const config::WarmupSchedule& schedule, absl::Time now,
                                      bool take) {
  Roll(schedule, now);
  if (!warm(schedule)) {
    const int64_t daily = schedule.daily[day_ - 1];
    const int64_t hourly = schedule.hourly[day_ - 1];
    if (sent_today_ >= daily) {
      return shaping::Admission::NotBefore(absl::FromUnixSeconds((day_number_ + 1) * kDay),
                                           shaping::kWarmup);
    }
    if (sent_last_hour(now) >= hourly) {
      return shaping::Admission::NotBefore(HourOpensAt(hourly), shaping::kWarmup);
    }
  }
  if (take) {
    ++sent_today_;
    const int64_t minute = MinuteOf(now);
    if (minutes_.empty() || minutes_.back().first < minute) {
      minutes_.emplace_back(minute, 1);
    } else {
      ++minutes_.back().second;  // a clock that stepped back counts in the newest minute
    }
  }
  return shaping::Admission::Go();
}

void WarmupState::Uncount() {
  if (sent_today_ > 0) --sent_today_;
  if (!minutes_.empty() && --minutes_.back().second == 0) minutes_.pop_back();
}

int64_t WarmupState::Available(const config::WarmupSchedule& schedule, absl::Time now) {
  Roll(schedule, now);
  if (warm(schedule)) return std::numeric_limits<int64_t>::max();
  const int64_t day_left = schedule.daily[day_ - 1] - sent_today_;
  const int64_t hour_left = schedule.hourly[day_ - 1] - sent_last_hour(now);
  return std::max<int64_t>(0, std::min(day_left, hour_left));
}

void WarmupState::CountReplies(const config::WarmupSchedule& schedule, int tried, int deferred,
                               absl::Time now) {
  Roll(schedule, now);
  tried_today_ += tried;
  deferred_today_ += deferred;
}

std::string WarmupState::ToJson() const {
  std::string minutes = "[";
  for (const auto& [minute, n] : minutes_) {
    absl::StrAppend(&minutes, minutes.size() > 1 ? "," : "", "[", minute, ",", n, "]");
  }
  minutes.push_back(']');
  std::string out;
  JsonObjectWriter(&out)
      .Int("day", day_)
      .Int("day_number", day_number_)
      .Int("sent_today", sent_today_)
      .Int("tried_today", tried_today_)
      .Int("deferred_today", deferred_today_)
      .Raw("minutes", minutes)
      .String("last_verdict", last_verdict_)
      .String("started", Rfc3339(started_))
      .Finish();
  return out;
}

absl::StatusOr<WarmupState> WarmupState::FromJson(absl::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                                 /*allow_exceptions=*/false);
  auto integer = [&j](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_number_integer();
  };
  auto string = [&j](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string();
  };
  absl::Time started;
  if (!integer("day") || !integer("day_number") || !integer("sent_today") ||
      !integer("tried_today") || !integer("deferred_today") || !string("last_verdict") ||
      !string("started") || !j.contains("minutes") || !j["minutes"].is_array() ||
      !ParseRfc3339(j["started"].get<std::string>(), &started) || j["day"].get<int64_t>() < 1 ||
      j["day"].get<int64_t>() > std::numeric_limits<int>::max()) {
    return absl::DataLossError(absl::StrCat("not a warm-up state: ", text.substr(0, 200)));
  }
  WarmupState state(started);
  state.day_ = static_cast<int>(j["day"].get<int64_t>());
  state.day_number_ = j["day_number"].get<int64_t>();
  state.sent_today_ = j["sent_today"].get<int64_t>();
  state.tried_today_ = j["tried_today"].get<int64_t>();
  state.deferred_today_ = j["deferred_today"].get<int64_t>();
  state.last_verdict_ = j["last_verdict"].get<std::string>();
  for (const nlohmann::json& m : j["minutes"]) {
    if (!m.is_array() || m.size() != 2 || !m[0].is_number_integer() || !m[1].is_number_integer()) {
      return absl::DataLossError("not a warm-up state: a minute is not [minute, messages]");
    }
    state.minutes_.emplace_back(m[0].get<int64_t>(), m[1].get<int64_t>());
  }
  return state;
}

std::string WarmupState::ExplainJson(absl::string_view source, absl::string_view provider,
                                     const config::WarmupSchedule& schedule, absl::Time now) {
  const shaping::Admission next = Admit(schedule, now, /*take=*/false);
  const bool is_warm = warm(schedule);
  std::string out;
  JsonObjectWriter writer(&out);
  writer.String("source", source)
      .String("provider", provider)
      .String("schedule", schedule.name)
      .Int("day", day_)
      .Int("days", static_cast<int64_t>(schedule.daily.size()))
      .Bool("warm", is_warm);
  if (is_warm) {
    writer.Null("daily_cap").Null("hourly_cap");
  } else {
    writer.Int("daily_cap", schedule.daily[day_ - 1]).Int("hourly_cap", schedule.hourly[day_ - 1]);
  }
  writer.Int("sent_today", sent_today_)
      .Int("sent_last_hour", sent_last_hour(now))
      .Int("tried_today", tried_today_)
      .Int("deferred_today", deferred_today_)
      .StringOrNull("last_verdict", last_verdict_)
      .String("started", Rfc3339(started_));
  writer.TimeOrNull("next_opening", next.go() ? absl::InfiniteFuture() : next.not_before())
      .Finish();
  return out;
}

}  // namespace volley::adaptive
