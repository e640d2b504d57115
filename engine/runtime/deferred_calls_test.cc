#include "engine/runtime/deferred_calls.h"

#include <uv.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace volley {
namespace {

class DeferredCallsTest : public ::testing::Test {
 protected:
  DeferredCallsTest() { uv_loop_init(&loop_); }
  ~DeferredCallsTest() override {
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t loop_;
};

TEST_F(DeferredCallsTest, RunsEachCallAfterItsDelayInDueOrder) {
  std::vector<std::string> ran;
  std::vector<uint64_t> at;
  const uint64_t start = uv_now(&loop_);
  {
    DeferredCalls calls(&loop_);
    calls.RunAfter(absl::Milliseconds(60), [&] {
      ran.push_back("60ms");
      at.push_back(uv_now(&loop_) - start);
    });
    calls.RunAfter(absl::Milliseconds(20), [&] {
      ran.push_back("20ms");
      at.push_back(uv_now(&loop_) - start);
    });
    calls.RunAfter(absl::ZeroDuration(), [&] { ran.push_back("now-a"); });
    calls.RunAfter(absl::ZeroDuration(), [&] { ran.push_back("now-b"); });
    EXPECT_EQ(calls.pending(), 4u);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(calls.pending(), 0u);
  }
  EXPECT_EQ(ran, (std::vector<std::string>{"now-a", "now-b", "20ms", "60ms"}));
  ASSERT_EQ(at.size(), 2u);
  EXPECT_GE(at[0], 20u);
  EXPECT_GE(at[1], 60u);
}

TEST_F(DeferredCallsTest, ACallMayAddAnotherAndAnEarlierCallRearmsTheTimer) {
  std::vector<std::string> ran;
  DeferredCalls calls(&loop_);
  calls.RunAfter(absl::Seconds(30), [&] { ran.push_back("late"); });
  calls.RunAfter(absl::Milliseconds(5), [&] {
    ran.push_back("first");
    calls.RunAfter(absl::ZeroDuration(), [&] { ran.push_back("added"); });
  });
  // Run until the two short calls are done; the 30 s one must not have run.
  while (ran.size() < 2) uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_EQ(ran, (std::vector<std::string>{"first", "added"}));
  EXPECT_EQ(calls.pending(), 1u);
}

TEST_F(DeferredCallsTest, DestroyingDropsCallsNotYetRun) {
  bool ran = false;
  {
    DeferredCalls calls(&loop_);
    calls.RunAfter(absl::Milliseconds(1), [&] { ran = true; });
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace volley
