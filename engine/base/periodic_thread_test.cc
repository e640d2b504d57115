#include "engine/base/periodic_thread.h"

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(PeriodicThread, RunsItsTaskUntilStopped) {
  std::atomic<int> runs{0};
  PeriodicThread thread;
  thread.Start(absl::Milliseconds(1), [&runs] { ++runs; });
  // Polls (bounded) until the task has run a few times.
  for (int i = 0; i < 5000 && runs.load() < 3; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_GE(runs.load(), 3);
  thread.Stop();
  const int after_stop = runs.load();
  thread.Stop();  // idempotent
  EXPECT_EQ(runs.load(), after_stop) << "joined: nothing runs after Stop";
}

TEST(PeriodicThread, StopWakesALongWaitAtOnce) {
  std::atomic<int> runs{0};
  PeriodicThread thread;
  thread.Start(absl::Hours(1), [&runs] { ++runs; });
  thread.Stop();  // would hang for an hour if the wait were not woken
  EXPECT_EQ(runs.load(), 0);
}

}  // namespace
}  // namespace volley
