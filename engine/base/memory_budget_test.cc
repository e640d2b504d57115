#include "engine/base/memory_budget.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(MemoryBudgetTest, ChargesAllOrNothingWithinTheLimit) {
  MemoryBudget budget(100);
  EXPECT_TRUE(budget.TryCharge(60));
  EXPECT_FALSE(budget.TryCharge(41));
  EXPECT_TRUE(budget.Fits(40));
  EXPECT_FALSE(budget.Fits(41));
  EXPECT_TRUE(budget.TryCharge(40));
  EXPECT_EQ(budget.used(), 100u);
  budget.Release(100);
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_FALSE(budget.TryCharge(101));
  EXPECT_FALSE(budget.TryCharge(UINT64_MAX));
}

TEST(MemoryChargeTest, GrowsMovesAndReleasesWhenDestroyed) {
  MemoryBudget budget(100);
  {
    MemoryCharge a(&budget);
    EXPECT_TRUE(a.GrowTo(30));
    EXPECT_TRUE(a.GrowTo(20));  // never shrinks
    EXPECT_EQ(a.bytes(), 30u);
    MemoryCharge b(&budget);
    EXPECT_FALSE(b.GrowTo(71));
    EXPECT_EQ(b.bytes(), 0u);
    EXPECT_TRUE(b.GrowTo(70));
    EXPECT_EQ(budget.used(), 100u);
    MemoryCharge moved = std::move(a);
    EXPECT_EQ(a.bytes(), 0u);
    EXPECT_EQ(moved.bytes(), 30u);
    EXPECT_EQ(budget.used(), 100u);
    b.Release();
    EXPECT_EQ(budget.used(), 30u);
  }
  EXPECT_EQ(budget.used(), 0u);
  MemoryCharge unbudgeted;
  EXPECT_TRUE(unbudgeted.GrowTo(UINT64_MAX));
}

TEST(MemoryBudgetTest, NeverOverchargedFromManyThreads) {
  MemoryBudget budget(1000);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (budget.TryCharge(7)) {
          taken.fetch_add(1);
          EXPECT_LE(budget.used(), 1000u);
          if (i % 2 == 0) {
            budget.Release(7);
            taken.fetch_sub(1);
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(budget.used(), static_cast<uint64_t>(taken.load()) * 7);
  EXPECT_LE(budget.used(), 1000u);
}

}  // namespace
}  // namespace volley
