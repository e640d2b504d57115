#include "engine/base/liveness.h"

#include <memory>

#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(Liveness, WeakExpiresWithTheOwner) {
  Liveness::Weak weak;
  EXPECT_FALSE(weak.alive());
  {
    Liveness owner;
    weak = owner.weak();
    EXPECT_TRUE(weak.alive());
  }
  EXPECT_FALSE(weak.alive());
}

TEST(Liveness, GuardedCallbackRunsOnlyWhileTheOwnerLives) {
  int calls = 0;
  auto owner = std::make_unique<Liveness>();
  auto callback = owner->Guard([&calls](int n) { calls += n; });
  callback(2);
  EXPECT_EQ(calls, 2);
  owner.reset();
  callback(5);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace volley
