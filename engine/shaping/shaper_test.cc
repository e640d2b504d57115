#include "engine/shaping/shaper.h"

#include "gtest/gtest.h"

namespace volley::shaping {
namespace {

TEST(Shaper, ConnectionLimitAndDeliveriesPerConnection) {
  config::ShapingConfig limits;
  limits.connection_limit = 2;
  limits.max_deliveries_per_connection = 3;
  Shaper shaper(&limits);
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(shaper.AdmitConnection(0, now).go());
  EXPECT_TRUE(shaper.AdmitConnection(1, now).go());
  const Admission full = shaper.AdmitConnection(2, now);
  EXPECT_FALSE(full.go());
  EXPECT_EQ(full.not_before(), absl::InfiniteFuture());
  EXPECT_TRUE(shaper.AdmitTransaction(0, now).go());
  EXPECT_TRUE(shaper.AdmitTransaction(2, now).go());
  EXPECT_FALSE(shaper.AdmitTransaction(3, now).go());

  // New limits take effect at once.
  config::ShapingConfig wider = limits;
  wider.connection_limit = 5;
  shaper.set_limits(&wider);
  EXPECT_TRUE(shaper.AdmitConnection(2, now).go());
  EXPECT_EQ(shaper.connection_limit(), 5);
}

TEST(Admission, GoAndNotBefore) {
  EXPECT_TRUE(Admission::Go().go());
  const absl::Time t = absl::FromUnixSeconds(5);
  EXPECT_FALSE(Admission::NotBefore(t).go());
  EXPECT_EQ(Admission::NotBefore(t).not_before(), t);
}

}  // namespace
}  // namespace volley::shaping
