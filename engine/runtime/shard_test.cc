#include "engine/runtime/shard.h"

#include <uv.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(Shard, RunsPostedTasksOnItsThreadInOrder) {
  Shard shard(0);
  ASSERT_TRUE(shard.Start().ok());
  std::vector<int> seen;  // touched only on the shard thread until Join
  std::atomic<bool> wrong_thread{false};
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(shard.Post([&, i] {
      if (!shard.InLoopThread()) wrong_thread = true;
      seen.push_back(i);
    }));
  }
  shard.Post([&] { shard.CloseMailbox(); });
  shard.Join();
  EXPECT_TRUE(shard.loop_close_status().ok()) << shard.loop_close_status();
  EXPECT_FALSE(wrong_thread);
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], i);
}

TEST(Shard, ManyProducersLoseNothing) {
  Shard shard(1);
  ASSERT_TRUE(shard.Start().ok());
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 20000;
  int64_t sum = 0;  // shard thread only
  std::vector<int> last_seen(kProducers, -1);
  bool out_of_order = false;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        shard.Post([&, p, i] {
          // Tasks from one producer keep their order.
          if (last_seen[p] != i - 1) out_of_order = true;
          last_seen[p] = i;
          sum += i;
        });
      }
    });
  }
  for (auto& t : producers) t.join();
  shard.Post([&] { shard.CloseMailbox(); });
  shard.Join();
  EXPECT_FALSE(out_of_order);
  EXPECT_EQ(sum, int64_t{kProducers} * kPerProducer * (kPerProducer - 1) / 2);
}

TEST(Shard, PostAfterCloseIsRefused) {
  Shard shard(2);
  ASSERT_TRUE(shard.Start().ok());
  shard.Post([&] { shard.CloseMailbox(); });
  shard.Join();
  EXPECT_FALSE(shard.Post([] {}));
}

TEST(Shard, AHandleLeftOpenIsReportedAfterJoin) {
  Shard shard(4);
  ASSERT_TRUE(shard.Start().ok());
  uv_timer_t never_closed;  // initialised on the loop, never started nor closed
  shard.Post([&] {
    uv_timer_init(shard.loop(), &never_closed);
    shard.CloseMailbox();
  });
  shard.Join();
  EXPECT_EQ(shard.loop_close_status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(shard.loop_close_status().message().find("shard 4"), std::string::npos);
  // The thread is gone: the test closes what it left open, so that the loop can be closed and
  // frees what it holds (LeakSanitizer reports it otherwise).
  uv_close(reinterpret_cast<uv_handle_t*>(&never_closed), nullptr);
  uv_run(shard.loop(), UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(shard.loop()), 0);
}

TEST(Shard, InitErrorIsReturnedAndThreadEnds) {
  Shard shard(3);
  absl::Status status = shard.Start([] { return absl::InternalError("no"); });
  EXPECT_EQ(status.message(), "no");
}

TEST(Shard, CallRunsOnTheShardAndReturnsItsStatus) {
  Shard shard(5);
  ASSERT_TRUE(shard.Start().ok());
  bool in_loop = false;
  const absl::Status status = shard.Call([&] {
    in_loop = shard.InLoopThread();
    return absl::NotFoundError("from the shard");
  });
  EXPECT_TRUE(in_loop);
  EXPECT_EQ(status, absl::NotFoundError("from the shard"));
  shard.Post([&] { shard.CloseMailbox(); });
  shard.Join();
  EXPECT_EQ(shard.Call([] { return absl::OkStatus(); }).code(), absl::StatusCode::kUnavailable);
}

TEST(Shard, InitRunsOnTheShardThread) {
  Shard shard(4);
  bool in_loop = false;
  ASSERT_TRUE(shard
                  .Start([&] {
                    in_loop = shard.InLoopThread();
                    return absl::OkStatus();
                  })
                  .ok());
  shard.Post([&] { shard.CloseMailbox(); });
  shard.Join();
  EXPECT_TRUE(in_loop);
}

}  // namespace
}  // namespace volley
