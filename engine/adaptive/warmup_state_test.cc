// The warm-up schedule on a fake time line: caps per day and per hour, the day's verdict on its
// deferral rate, and the state as the ledger stores it. No clock, no sleep: each call is given
// its time.
#include "engine/adaptive/warmup_state.h"

#include "engine/base/json.h"
#include "gtest/gtest.h"

namespace volley::adaptive {
namespace {

// Midnight UTC of some day, and a three-day schedule small enough to count by hand.
const absl::Time kMidnight = absl::FromUnixSeconds(20000LL * 86400);

config::WarmupSchedule Small() {
  config::WarmupSchedule s;
  s.name = "small";
  s.daily = {10, 20, 40};
  s.hourly = {4, 8, 40};
  s.hold_above = 0.05;
  s.step_back_above = 0.20;
  return s;
}

// Sends as many as the caps allow at `at`; returns how many went.
int SendAll(WarmupState& state, const config::WarmupSchedule& s, absl::Time at) {
  int sent = 0;
  while (state.Admit(s, at, /*take=*/true).go()) ++sent;
  return sent;
}

TEST(WarmupStateTest, TheHourlyCapHoldsForSixtyMinutesCountedByTheMinute) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  const absl::Time t0 = kMidnight + absl::Hours(9) + absl::Seconds(40);  // 09:00:40
  EXPECT_EQ(state.Available(s, t0), 4);
  EXPECT_EQ(SendAll(state, s, t0), 4);
  const shaping::Admission full = state.Admit(s, t0, /*take=*/false);
  ASSERT_FALSE(full.go());
  EXPECT_EQ(full.limit(), shaping::kWarmup);
  // The minute 09:00 leaves the window when 10:01 begins: never 5 in one hour.
  EXPECT_EQ(full.not_before(), kMidnight + absl::Hours(10) + absl::Minutes(1));
  EXPECT_FALSE(state.Admit(s, full.not_before() - absl::Seconds(1), true).go());
  EXPECT_EQ(state.sent_last_hour(full.not_before() - absl::Seconds(1)), 4);
  EXPECT_TRUE(state.Admit(s, full.not_before(), true).go());
  EXPECT_EQ(state.sent_today(), 5);
}

TEST(WarmupStateTest, OldMinutesLeaveOneByOne) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  const absl::Time t0 = kMidnight + absl::Hours(1);
  ASSERT_TRUE(state.Admit(s, t0, true).go());
  ASSERT_TRUE(state.Admit(s, t0 + absl::Minutes(10), true).go());
  ASSERT_EQ(SendAll(state, s, t0 + absl::Minutes(20)), 2);
  // Full: the 01:00 message is the first to leave the window.
  EXPECT_EQ(state.Admit(s, t0 + absl::Minutes(30), false).not_before(), t0 + absl::Minutes(61));
  EXPECT_EQ(state.Available(s, t0 + absl::Minutes(61)), 1);
  EXPECT_EQ(state.Available(s, t0 + absl::Minutes(71)), 2);
}

TEST(WarmupStateTest, TheDailyCapHoldsUntilTheNextUtcDay) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  int sent = 0;
  for (int hour = 0; hour < 5; ++hour) sent += SendAll(state, s, kMidnight + absl::Hours(2 * hour));
  EXPECT_EQ(sent, 10);  // 4 + 4 + 2
  const shaping::Admission full = state.Admit(s, kMidnight + absl::Hours(12), false);
  ASSERT_FALSE(full.go());
  EXPECT_EQ(full.not_before(), kMidnight + absl::Hours(24));
  EXPECT_EQ(state.Available(s, kMidnight + absl::Hours(12)), 0);
}

TEST(WarmupStateTest, ADayWithFewDeferralsAdvancesTheSchedule) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  ASSERT_EQ(SendAll(state, s, kMidnight + absl::Hours(1)), 4);
  state.CountReplies(s, 100, 4, kMidnight + absl::Hours(2));  // 4%: below hold_above
  EXPECT_EQ(state.day(), 1);
  const absl::Time next_day = kMidnight + absl::Hours(25);
  EXPECT_EQ(state.Available(s, next_day), 8);  // day 2's hourly cap
  EXPECT_EQ(state.day(), 2);
  EXPECT_EQ(state.last_verdict(), "advanced");
  EXPECT_EQ(state.sent_today(), 0);
}

TEST(WarmupStateTest, DeferralsHoldTheDayOrStepBack) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  auto day = [&](int n) { return kMidnight + absl::Hours(24 * n + 1); };
  state.CountReplies(s, 10, 0, day(0));
  state.CountReplies(s, 10, 0, day(1));
  state.CountReplies(s, 100, 5, day(2));  // day 3 now; 5% is hold_above: it holds
  EXPECT_EQ(state.day(), 3);
  state.CountReplies(s, 100, 20, day(3));  // held at 3; 20% steps back
  EXPECT_EQ(state.day(), 3);
  EXPECT_EQ(state.last_verdict(), "held");
  EXPECT_EQ(state.Available(s, day(4)), 8);
  EXPECT_EQ(state.day(), 2);
  EXPECT_EQ(state.last_verdict(), "stepped back");
}

TEST(WarmupStateTest, DaysWithoutRepliesDoNotAdvance) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  state.CountReplies(s, 10, 0, kMidnight);
  // Ten idle days judge only the one with replies.
  EXPECT_EQ(state.Available(s, kMidnight + absl::Hours(24 * 10)), 8);
  EXPECT_EQ(state.day(), 2);
}

TEST(WarmupStateTest, PastTheLastDayTheSourceIsWarmUntilABadDay) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  for (int n = 0; n < 3; ++n) state.CountReplies(s, 10, 0, kMidnight + absl::Hours(24 * n));
  EXPECT_EQ(state.Available(s, kMidnight + absl::Hours(24 * 3)), INT64_MAX);
  EXPECT_TRUE(state.warm(s));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(state.Admit(s, kMidnight + absl::Hours(24 * 3), true).go()) << i;
  }
  state.CountReplies(s, 10, 5, kMidnight + absl::Hours(24 * 3));
  EXPECT_EQ(state.Available(s, kMidnight + absl::Hours(24 * 4)), 40);  // back on day 3
  EXPECT_FALSE(state.warm(s));
}

TEST(WarmupStateTest, UncountGivesBackAMessage) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  ASSERT_EQ(SendAll(state, s, kMidnight), 4);
  state.Uncount();
  EXPECT_EQ(state.sent_today(), 3);
  EXPECT_TRUE(state.Admit(s, kMidnight, true).go());
}

TEST(WarmupStateTest, TheStoredFormReadsBackTheSame) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  ASSERT_EQ(SendAll(state, s, kMidnight + absl::Minutes(5)), 4);
  state.CountReplies(s, 4, 1, kMidnight + absl::Minutes(6));
  absl::StatusOr<WarmupState> back = WarmupState::FromJson(state.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), state.ToJson());
  EXPECT_EQ(back->sent_last_hour(kMidnight + absl::Minutes(30)), 4);
  EXPECT_FALSE(back->Admit(s, kMidnight + absl::Minutes(30), true).go());
  EXPECT_EQ(back->started(), kMidnight);
  for (const char* bad : {"", "[]", "{\"day\":0}", "{\"day\":\"x\"}"}) {
    EXPECT_FALSE(WarmupState::FromJson(bad).ok()) << bad;
  }
}

TEST(WarmupStateTest, TheExplainReadOutNamesTheCapsAndTheOpening) {
  const config::WarmupSchedule s = Small();
  WarmupState state(kMidnight);
  ASSERT_EQ(SendAll(state, s, kMidnight), 4);
  const std::string json = state.ExplainJson("ip1", "gmail", s, kMidnight);
  EXPECT_NE(json.find("\"source\":\"ip1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"provider\":\"gmail\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"hourly_cap\":4"), std::string::npos) << json;
  EXPECT_NE(json.find("\"sent_last_hour\":4"), std::string::npos) << json;
  EXPECT_NE(json.find("\"next_opening\":\"" + Rfc3339(kMidnight + absl::Minutes(61))),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace volley::adaptive
