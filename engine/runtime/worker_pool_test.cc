#include "engine/runtime/worker_pool.h"

#include <atomic>
#include <set>
#include <thread>

#include "engine/runtime/shard.h"
#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(WorkerPool, RunsEveryTaskBeforeDestruction) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 1000; ++i) pool.Run([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(WorkerPool, TasksRunOffTheCallingThreadAndPostBack) {
  Shard shard(0);
  ASSERT_TRUE(shard.Start().ok());
  WorkerPool pool(2);
  std::atomic<bool> on_caller{false};
  std::atomic<bool> back_on_shard{false};
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> finished{false};
  pool.Run([&] {
    if (std::this_thread::get_id() == caller) on_caller = true;
    shard.Post([&] {
      back_on_shard = shard.InLoopThread();
      finished = true;
      shard.CloseMailbox();
    });
  });
  shard.Join();
  EXPECT_TRUE(finished);
  EXPECT_FALSE(on_caller);
  EXPECT_TRUE(back_on_shard);
}

}  // namespace
}  // namespace volley
