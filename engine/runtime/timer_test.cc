#include "engine/runtime/timer.h"

#include <uv.h>

#include <memory>

#include "gtest/gtest.h"

namespace volley {
namespace {

class TimerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    // Every handle is closed: the loop ends and closes cleanly.
    uv_run(&loop_, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop_), 0);
  }
  uv_loop_t loop_;
};

TEST_F(TimerTest, FiresOnceAfterStart) {
  int fired = 0;
  auto timer = std::make_unique<Timer>(&loop_, [&] { ++fired; });
  timer->Start(absl::Milliseconds(1));
  EXPECT_TRUE(timer->active());
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(timer->active());
  timer.reset();
}

TEST_F(TimerTest, RepeatsUntilStopped) {
  int fired = 0;
  std::unique_ptr<Timer> timer;
  timer = std::make_unique<Timer>(&loop_, [&] {
    if (++fired == 3) timer->Stop();
  });
  timer->StartRepeating(absl::Milliseconds(1));
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(fired, 3);
  timer.reset();
}

TEST_F(TimerTest, MayBeDestroyedFromItsOwnCallback) {
  int fired = 0;
  std::unique_ptr<Timer> timer;
  timer = std::make_unique<Timer>(&loop_, [&] {
    ++fired;
    timer.reset();
  });
  timer->Start(absl::ZeroDuration());
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(timer, nullptr);
}

TEST_F(TimerTest, DestroyedBeforeFiringNeverFires) {
  bool fired = false;
  auto timer = std::make_unique<Timer>(&loop_, [&] { fired = true; });
  timer->Start(absl::ZeroDuration());
  timer.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_FALSE(fired);
}

TEST_F(TimerTest, AnUnreferencedTimerDoesNotKeepTheLoopRunning) {
  bool fired = false;
  Timer timer(&loop_, [&] { fired = true; });
  timer.Unref();
  timer.Start(absl::Hours(1));
  // Returns at once: nothing else keeps the loop alive.
  EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
  EXPECT_FALSE(fired);
}

TEST(ToLoopMillis, RoundsUp) {
  EXPECT_EQ(ToLoopMillis(absl::ZeroDuration()), 0u);
  EXPECT_EQ(ToLoopMillis(absl::Microseconds(1)), 1u);
  EXPECT_EQ(ToLoopMillis(absl::Milliseconds(1500)), 1500u);
  EXPECT_EQ(ToLoopMillis(absl::Microseconds(1500)), 2u);
}

}  // namespace
}  // namespace volley
