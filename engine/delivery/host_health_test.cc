#include "engine/delivery/host_health.h"

#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

TEST(HostHealth, AFailedHostIsSkippedForThirtySecondsThenTriedAgain) {
  SimulatedClock clock;
  HostHealth health(clock);
  const ConnectTarget a{"mx1.test", "192.0.2.1", 25};
  const ConnectTarget same_ip_other_port{"mx1.test", "192.0.2.1", 2525};
  EXPECT_FALSE(health.RecentlyFailed(a));
  health.MarkFailed(a);
  EXPECT_TRUE(health.RecentlyFailed(a));
  EXPECT_FALSE(health.RecentlyFailed(same_ip_other_port));
  clock.Advance(HostHealth::kFailedHostDelay - absl::Seconds(1));
  EXPECT_TRUE(health.RecentlyFailed(a));
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(health.RecentlyFailed(a));
  // TLS memory is kept apart and lasts longer.
  health.MarkTlsFailed(a);
  EXPECT_FALSE(health.RecentlyFailed(a));
  clock.Advance(absl::Minutes(29));
  EXPECT_TRUE(health.TlsRecentlyFailed(a));
  clock.Advance(absl::Minutes(1));
  EXPECT_FALSE(health.TlsRecentlyFailed(a));
}

}  // namespace
}  // namespace volley::delivery
