#include "engine/base/logging.h"

#include "absl/status/statusor.h"
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

TEST(Logging, EveryNSecLetsOneThroughPerIntervalAndCountsTheRest) {
  int evaluated = 0;
  auto log = [&] { LOG_EVERY_N_SEC(ERROR, 0.2) << ++evaluated; };
  for (int i = 0; i < 50; ++i) log();
  EXPECT_EQ(evaluated, 1);
  absl::SleepFor(absl::Milliseconds(250));
  testing::internal::CaptureStderr();
  log();
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluated, 2);
  EXPECT_NE(out.find("(49 similar messages suppressed) 2"), std::string::npos) << out;
}

}  // namespace
}  // namespace volley
