#include "engine/base/logging.h"

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/base/status_macros.h"
#include "gtest/gtest.h"

namespace volley {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacros, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(Logging, CheckFailureAbortsWithMessage) {
  EXPECT_DEATH({ CHECK(1 + 1 == 3) << "arithmetic"; }, "Check failed: 1 \\+ 1 == 3 arithmetic");
}

TEST(Logging, DisabledSeverityDoesNotEvaluateStream) {
  SetMinLogSeverity(LogSeverity::kError);
  int evaluated = 0;
  LOG(INFO) << ++evaluated;
  EXPECT_EQ(evaluated, 0);
  LOG(ERROR) << ++evaluated;
  EXPECT_EQ(evaluated, 1);
  SetMinLogSeverity(LogSeverity::kInfo);
}

TEST(Logging, RateLimiterLetsOneThroughPerIntervalAndCountsTheRest) {
  // Time is stepped by hand, so the interval's edges are exact and nothing sleeps.
  logging_internal::LogRateLimiter limiter(0.25);
  constexpr int64_t kStart = 1'700'000'000'000'000'000;
  constexpr int64_t kInterval = 250'000'000;
  EXPECT_TRUE(limiter.Allow(kStart));
  EXPECT_EQ(limiter.suppressed(), 0);
  for (int i = 0; i < 49; ++i) EXPECT_FALSE(limiter.Allow(kStart + i * 1'000'000)) << i;
  EXPECT_FALSE(limiter.Allow(kStart + kInterval - 1));
  EXPECT_TRUE(limiter.Allow(kStart + kInterval));
  EXPECT_EQ(limiter.suppressed(), 50);
  // The next interval runs from the one just let through, not from the first.
  EXPECT_FALSE(limiter.Allow(kStart + 2 * kInterval - 1));
  EXPECT_TRUE(limiter.Allow(kStart + 2 * kInterval));
  EXPECT_EQ(limiter.suppressed(), 1);
}

TEST(Logging, EveryNSecLetsOneThroughPerIntervalAndCountsTheRest) {
  int evaluated = 0;
  auto log = [&] { LOG_EVERY_N_SEC(ERROR, 0.2) << ++evaluated; };
  const absl::Time first = absl::Now();
  for (int i = 0; i < 50; ++i) log();
  EXPECT_EQ(evaluated, 1);
  // The macro's limiter reads the real clock: call until the next message is let through,
  // instead of sleeping for a guessed time, and count the calls held back meanwhile.
  testing::internal::CaptureStderr();
  int held_back = 49;
  const absl::Time deadline = first + absl::Seconds(30);
  while (true) {
    log();
    if (evaluated == 2 || absl::Now() >= deadline) break;
    ++held_back;
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Duration waited = absl::Now() - first;
  const std::string out = testing::internal::GetCapturedStderr();
  ASSERT_EQ(evaluated, 2) << "nothing let through in 30 s";
  // Not before the interval had passed since the first one.
  EXPECT_GE(waited, absl::Milliseconds(200));
  EXPECT_NE(out.find(absl::StrCat("(", held_back, " similar messages suppressed) 2")),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace volley
