// IP warm-up of one egress source toward one provider: where it is in its schedule
// (config::WarmupSchedule), what it sent in the current UTC day and in the last hour, and how
// the receiving side answered today. Pure logic on the times it is given, so that it is tested
// on a fake clock; WarmupLedger (warmup_ledger.h) keeps one per source x provider, shared by
// the shards, and stores them in the spool.
//
// The caps: at most the day's `daily` messages in a UTC day, and at most its `hourly` in any
// 60 minutes (counted by the minute, so a cap that fills at 12:00:40 opens again at 13:01:00,
// never early). A day of sending is judged when the next UTC day begins: its deferral rate
// (4xx replies among the recipients tried) below the schedule's hold_above moves to the next
// day's caps, from hold_above repeats the day, from step_back_above goes back one day. A day
// without replies is not judged: the schedule moves with mail sent, not with the calendar.
// Past its last day the source is warm toward the provider: no cap holds it, and its days are
// still judged, so that a bad day takes it back into the schedule's last day.
#ifndef VOLLEY_ENGINE_ADAPTIVE_WARMUP_STATE_H_
#define VOLLEY_ENGINE_ADAPTIVE_WARMUP_STATE_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "engine/shaping/admission.h"

namespace volley::adaptive {

// Not thread-safe: its ledger locks around it.
class WarmupState {
 public:
  // A state that starts its schedule's day 1 at `now`.
  explicit WarmupState(absl::Time now) : started_(now) {}

  // May one more message leave now under `schedule`? A "go" with `take` counts it.
  // Otherwise not before the time the cap that is full lets one more through (kWarmup).
  shaping::Admission Admit(const config::WarmupSchedule& schedule, absl::Time now, bool take);
  // Uncounts a message Admit counted (with `take`) that did not leave after all.
  void Uncount();
  // The messages the caps let through now (INT64_MAX when warm).
  int64_t Available(const config::WarmupSchedule& schedule, absl::Time now);
  // The replies to a transaction from the source: `tried` recipients, `deferred` of them with
  // a 4xx.
  void CountReplies(const config::WarmupSchedule& schedule, int tried, int deferred,
                    absl::Time now);

  // 1-based day of the schedule; beyond its last day, warm.
  int day() const { return day_; }
  bool warm(const config::WarmupSchedule& schedule) const {
    return day_ > static_cast<int>(schedule.daily.size());
  }
  int64_t sent_today() const { return sent_today_; }
  // Messages in the last 60 minutes (as the hourly cap counts them) at `now`.
  int64_t sent_last_hour(absl::Time now) const;
  int64_t tried_today() const { return tried_today_; }
  int64_t deferred_today() const { return deferred_today_; }
  // How the last judged day went: "advanced", "held", "stepped back", or "" before any.
  const std::string& last_verdict() const { return last_verdict_; }
  absl::Time started() const { return started_; }

  // {"day", "day_number", "sent_today", "tried_today", "deferred_today", "minutes": [[minute,
  // messages]...], "last_verdict", "started"}: what the ledger stores, and reads back with
  // FromJson.
  std::string ToJson() const;
  static absl::StatusOr<WarmupState> FromJson(absl::string_view text);

  // {"source", "provider", "schedule", "day", "days", "warm", "daily_cap", "hourly_cap",
  // "sent_today",
  //  "sent_last_hour", "tried_today", "deferred_today", "last_verdict", "started",
  //  "next_opening": RFC 3339 | null (when a cap is full)}, as the explain read-out shows it.
  // `source` and `provider` lead the object.
  std::string ExplainJson(absl::string_view source, absl::string_view provider,
                          const config::WarmupSchedule& schedule, absl::Time now);

 private:
  // Judges the day just ended when `now` is in a later UTC day, and drops minutes older than
  // an hour.
  void Roll(const config::WarmupSchedule& schedule, absl::Time now);
  // When the minutes that must pass for one more message in the hour have passed.
  absl::Time HourOpensAt(int64_t hourly) const;

  int day_ = 1;
  int64_t day_number_ = -1;  // the UTC day (days since the epoch) the day's counts are of
  int64_t sent_today_ = 0;
  int64_t tried_today_ = 0;
  int64_t deferred_today_ = 0;
  std::deque<std::pair<int64_t, int64_t>> minutes_;  // (minute since the epoch, messages)
  std::string last_verdict_;
  absl::Time started_;
};

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_WARMUP_STATE_H_
