#include "engine/inject/client_limits.h"

#include "gtest/gtest.h"

namespace volley::inject {
namespace {

using Verdict = ClientLimits::Verdict;

config::Rate PerMinute(uint64_t n) {
  config::Rate rate;
  rate.quantity = n;
  rate.period = absl::Minutes(1);
  rate.max_burst = n;
  return rate;
}

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

TEST(ClientLimitsTest, CountsConnectionsPerAddressUntilTheyLeave) {
  ClientLimits::Options options;
  options.max_connections_per_ip = 2;
  ClientLimits limits(options);
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kAdmitted);
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kAdmitted);
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kTooManyConnections);
  EXPECT_EQ(limits.Arrive("10.0.0.2", kStart), Verdict::kAdmitted);
  limits.Leave("10.0.0.1");
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kAdmitted);
  limits.Leave("10.0.0.1");
  limits.Leave("10.0.0.1");
  limits.Leave("10.0.0.2");
  EXPECT_EQ(limits.tracked_clients(), 0u);  // nothing kept for clients that have gone
}

TEST(ClientLimitsTest, LimitsNewConnectionsPerMinute) {
  ClientLimits::Options options;
  options.connection_rate_per_ip = PerMinute(3);
  ClientLimits limits(options);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kAdmitted);
    limits.Leave("10.0.0.1");
  }
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kConnectionRate);
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart + absl::Seconds(19)), Verdict::kConnectionRate);
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart + absl::Seconds(21)), Verdict::kAdmitted);
}

TEST(ClientLimitsTest, ExemptNetworksAreNotCounted) {
  ClientLimits::Options options;
  options.max_connections_per_ip = 1;
  options.exempt.push_back(*config::ParseCidr("127.0.0.0/8"));
  ClientLimits limits(options);
  EXPECT_EQ(limits.Arrive("127.0.0.1", kStart), Verdict::kAdmitted);
  EXPECT_EQ(limits.Arrive("127.0.0.1", kStart), Verdict::kAdmitted);
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kAdmitted);
  EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kTooManyConnections);
}

TEST(ClientLimitsTest, LimitsMessagesPerUser) {
  ClientLimits::Options options;
  options.message_rate_per_user = PerMinute(2);
  ClientLimits limits(options);
  EXPECT_TRUE(limits.TakeMessage("app", kStart));
  EXPECT_TRUE(limits.TakeMessage("app", kStart));
  EXPECT_FALSE(limits.TakeMessage("app", kStart));
  EXPECT_TRUE(limits.TakeMessage("other", kStart));
  EXPECT_TRUE(limits.TakeMessage("", kStart));  // no user: the limit is per authenticated user
  EXPECT_TRUE(limits.TakeMessage("app", kStart + absl::Seconds(31)));
}

TEST(ClientLimitsTest, NoLimitsKeepsNothing) {
  ClientLimits limits(ClientLimits::Options{});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limits.Arrive("10.0.0.1", kStart), Verdict::kAdmitted);
  EXPECT_TRUE(limits.TakeMessage("app", kStart));
  EXPECT_EQ(limits.tracked_clients(), 0u);
}

}  // namespace
}  // namespace volley::inject
