#include "engine/shaping/shaper.h"

#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace volley::shaping {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000);

config::Rate RateOf(absl::string_view text) {
  absl::StatusOr<std::optional<config::Rate>> rate = config::ParseRateValue(text);
  EXPECT_TRUE(rate.ok() && rate->has_value()) << text;
  return rate.ok() && rate->has_value() ? **rate : config::Rate{};
}

config::ShapingConfig Unlimited() {
  config::ShapingConfig limits;
  limits.max_message_rate.reset();
  limits.max_connection_rate.reset();
  return limits;
}

TEST(Shaper, ConnectionLimitAndDeliveriesPerConnection) {
  std::vector<config::ShapingConfig> limits = {Unlimited()};
  limits[0].connection_limit = 2;
  limits[0].max_deliveries_per_connection = 3;
  Shaper shaper;
  shaper.set_limits(&limits);
  int source = -1;
  EXPECT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  EXPECT_EQ(source, 0);
  EXPECT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  const Admission full = shaper.AdmitConnection(kNow, &source);
  EXPECT_FALSE(full.go());
  EXPECT_EQ(full.not_before(), absl::InfiniteFuture());
  EXPECT_EQ(full.limit(), "connection_limit");
  // A closed connection makes room.
  shaper.ConnectionClosed(0);
  EXPECT_EQ(shaper.open_connections(0), 1);
  EXPECT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  EXPECT_TRUE(shaper.AdmitTransaction(0, 0).go());
  EXPECT_TRUE(shaper.AdmitTransaction(0, 2).go());
  EXPECT_EQ(shaper.AdmitTransaction(0, 3).limit(), "max_deliveries_per_connection");

  // New limits take effect at once; open connections stay counted.
  std::vector<config::ShapingConfig> wider = limits;
  wider[0].connection_limit = 5;
  shaper.set_limits(&wider);
  EXPECT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  EXPECT_EQ(shaper.open_connections(0), 3);
  EXPECT_EQ(shaper.connection_limit(), 5);
}

TEST(Shaper, EachSourceHasItsOwnLimitsAndTheyAreUsedInTurn) {
  std::vector<config::ShapingConfig> limits = {Unlimited(), Unlimited(), Unlimited()};
  limits[0].connection_limit = 1;
  limits[1].connection_limit = 3;
  limits[2].connection_limit = 1;
  limits[2].max_message_rate = RateOf("2/s");
  Shaper shaper;
  shaper.set_limits(&limits);
  EXPECT_EQ(shaper.connection_limit(), 5);
  std::vector<int> sources;
  int source = -1;
  while (shaper.AdmitConnection(kNow, &source).go()) sources.push_back(source);
  // In turn while each has room, then the one with room left.
  EXPECT_EQ(sources, (std::vector<int>{0, 1, 2, 1, 1}));
  // Source 2's message rate is its own.
  EXPECT_TRUE(shaper.AdmitMessage(2, kNow).go());
  EXPECT_TRUE(shaper.AdmitMessage(2, kNow).go());
  EXPECT_EQ(shaper.AdmitMessage(2, kNow).limit(), "max_message_rate");
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(shaper.AdmitMessage(1, kNow).go());
}

TEST(Shaper, APausedSourceOpensNothingAndStartsNoTransaction) {
  std::vector<config::ShapingConfig> limits = {Unlimited(), Unlimited()};
  Shaper shaper;
  shaper.set_limits(&limits);
  shaper.set_paused(0, true);
  int source = -1;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(shaper.AdmitConnection(kNow, &source).go());
    EXPECT_EQ(source, 1);
  }
  EXPECT_EQ(shaper.AdmitTransaction(0, 0).limit(), "suspension");
  EXPECT_TRUE(shaper.AdmitTransaction(1, 0).go());
  shaper.set_paused(1, true);
  const Admission none = shaper.AdmitConnection(kNow, &source);
  EXPECT_EQ(none.limit(), "suspension");
  EXPECT_EQ(none.not_before(), absl::InfiniteFuture());
  shaper.set_paused(0, false);
  EXPECT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  EXPECT_EQ(source, 0);
}

TEST(Shaper, MessageRateTakesOnlyWhatIsAdmitted) {
  std::vector<config::ShapingConfig> limits = {Unlimited()};
  limits[0].max_message_rate = RateOf("10/s");
  Shaper shaper;
  shaper.set_limits(&limits);
  EXPECT_EQ(shaper.MessagesAvailable(kNow), 10u);
  // Asking when the next message may go takes nothing.
  EXPECT_TRUE(shaper.NextMessage(kNow).go());
  EXPECT_EQ(shaper.MessagesAvailable(kNow), 10u);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(shaper.AdmitMessage(0, kNow).go()) << i;
  EXPECT_EQ(shaper.MessagesAvailable(kNow), 0u);
  const Admission next = shaper.NextMessage(kNow);
  EXPECT_EQ(next.not_before(), kNow + absl::Milliseconds(100));
  EXPECT_EQ(next.limit(), "max_message_rate");
  EXPECT_FALSE(shaper.AdmitMessage(0, kNow).go());
  EXPECT_TRUE(shaper.AdmitMessage(0, next.not_before()).go());
}

TEST(Shaper, ConnectionRateIsCheckedAfterTheLimit) {
  std::vector<config::ShapingConfig> limits = {Unlimited()};
  limits[0].connection_limit = 1;
  limits[0].max_connection_rate = RateOf("2/m,max_burst=1");
  Shaper shaper;
  shaper.set_limits(&limits);
  int source = -1;
  EXPECT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  // At the limit, the rate is not asked (and so not spent).
  EXPECT_EQ(shaper.AdmitConnection(kNow, &source).limit(), "connection_limit");
  shaper.ConnectionClosed(0);
  const Admission second = shaper.AdmitConnection(kNow, &source);
  EXPECT_EQ(second.limit(), "max_connection_rate");
  EXPECT_EQ(second.not_before(), kNow + absl::Seconds(30));
}

TEST(Shaper, EmptyRatesAreUnlimited) {
  std::vector<config::ShapingConfig> limits = {Unlimited()};
  limits[0].connection_limit = 1'000'000;
  Shaper shaper;
  shaper.set_limits(&limits);
  int source = -1;
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(shaper.AdmitMessage(0, kNow).go());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  EXPECT_EQ(shaper.MessagesAvailable(kNow), std::numeric_limits<uint64_t>::max());
}

TEST(Shaper, NewLimitsKeepWhatTheRateSpent) {
  std::vector<config::ShapingConfig> fast = {Unlimited()};
  fast[0].max_message_rate = RateOf("100/s");
  Shaper shaper;
  shaper.set_limits(&fast);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(shaper.AdmitMessage(0, kNow).go());
  std::vector<config::ShapingConfig> slow = fast;
  slow[0].max_message_rate = RateOf("10/s,max_burst=1");
  shaper.set_limits(&slow);
  EXPECT_FALSE(shaper.AdmitMessage(0, kNow + absl::Milliseconds(500)).go());
  // A limit that goes away frees the site at once.
  std::vector<config::ShapingConfig> open = {Unlimited()};
  shaper.set_limits(&open);
  EXPECT_TRUE(shaper.AdmitMessage(0, kNow).go());
}

TEST(Shaper, ALowerLimitRetiresConnectionsOneByOne) {
  std::vector<config::ShapingConfig> limits = {Unlimited()};
  limits[0].connection_limit = 4;
  Shaper shaper;
  shaper.set_limits(&limits);
  int source = -1;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  EXPECT_FALSE(shaper.RetireIfOverLimit(0));
  // Reloaded with a limit of 2: the next two connections to ask are told to quit, the others
  // stay, even before the first two have closed.
  std::vector<config::ShapingConfig> lower = limits;
  lower[0].connection_limit = 2;
  shaper.set_limits(&lower);
  EXPECT_TRUE(shaper.RetireIfOverLimit(0));
  EXPECT_TRUE(shaper.RetireIfOverLimit(0));
  EXPECT_FALSE(shaper.RetireIfOverLimit(0));
  shaper.ConnectionClosed(0);
  shaper.ConnectionClosed(0);
  EXPECT_EQ(shaper.open_connections(0), 2);
  EXPECT_FALSE(shaper.RetireIfOverLimit(0));
  EXPECT_FALSE(shaper.AdmitConnection(kNow, &source).go());
}

TEST(Shaper, ASourceTakenAwayIsNoLongerUsed) {
  std::vector<config::ShapingConfig> limits = {Unlimited(), Unlimited()};
  limits[0].connection_limit = 1;
  limits[1].connection_limit = 1;
  Shaper shaper;
  shaper.set_limits(&limits);
  int source = -1;
  ASSERT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  ASSERT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  EXPECT_EQ(source, 1);
  std::vector<config::ShapingConfig> one = {limits[0]};
  shaper.set_limits(&one);
  EXPECT_TRUE(shaper.HasSource(0));
  EXPECT_FALSE(shaper.HasSource(1));
  EXPECT_TRUE(shaper.RetireIfOverLimit(1));
  EXPECT_FALSE(shaper.AdmitTransaction(1, 0).go());
  EXPECT_FALSE(shaper.AdmitMessage(1, kNow).go());
  shaper.ConnectionClosed(1);  // its connection closing later is no harm
  EXPECT_EQ(shaper.connection_limit(), 1);
  EXPECT_FALSE(shaper.AdmitConnection(kNow, &source).go());
}

// A cap that lets `left` messages through, then none until `opens`.
class CountingCap final : public SourceCap {
 public:
  CountingCap(int64_t left, absl::Time opens) : left_(left), opens_(opens) {}
  Admission Peek(absl::Time) override {
    return left_ > 0 ? Admission::Go() : Admission::NotBefore(opens_, kWarmup);
  }
  Admission Take(absl::Time now) override {
    const Admission a = Peek(now);
    if (a.go()) --left_;
    return a;
  }
  void Return(absl::Time) override { ++left_; }
  int64_t Available(absl::Time) override { return left_; }
  int64_t left() const { return left_; }

 private:
  int64_t left_;
  absl::Time opens_;
};

TEST(Shaper, AFullCapSendsTheSourcesMailToTheOthersOrWaitsForItsOpening) {
  std::vector<config::ShapingConfig> limits = {Unlimited(), Unlimited()};
  Shaper shaper;
  shaper.set_limits(&limits);
  CountingCap cap(2, kNow + absl::Hours(1));
  shaper.set_cap(0, &cap);
  EXPECT_EQ(shaper.MessagesAvailable(kNow), std::numeric_limits<uint64_t>::max());
  int source = -1;
  ASSERT_TRUE(shaper.AdmitConnection(kNow, &source).go());
  ASSERT_EQ(source, 0);
  EXPECT_TRUE(shaper.AdmitMessage(0, kNow).go());
  EXPECT_TRUE(shaper.AdmitMessage(0, kNow).go());
  EXPECT_EQ(cap.left(), 0);
  const Admission full = shaper.AdmitMessage(0, kNow);
  EXPECT_EQ(full.limit(), kWarmup);
  EXPECT_EQ(full.not_before(), kNow + absl::Hours(1));
  // New connections come from the other source only.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(shaper.AdmitConnection(kNow, &source).go());
    EXPECT_EQ(source, 1);
  }
  // Alone, the capped source waits for its opening.
  std::vector<config::ShapingConfig> one = {Unlimited()};
  Shaper alone;
  alone.set_limits(&one);
  alone.set_cap(0, &cap);
  EXPECT_EQ(alone.MessagesAvailable(kNow), 0u);
  EXPECT_EQ(alone.NextMessage(kNow).not_before(), kNow + absl::Hours(1));
  const Admission wait = alone.AdmitConnection(kNow, &source);
  EXPECT_EQ(wait.limit(), kWarmup);
  EXPECT_EQ(wait.not_before(), kNow + absl::Hours(1));
}

TEST(Shaper, ACapIsNotSpentOnAMessageTheRateRefuses) {
  std::vector<config::ShapingConfig> limits = {Unlimited()};
  limits[0].max_message_rate = RateOf("1/h");
  Shaper shaper;
  shaper.set_limits(&limits);
  CountingCap cap(5, kNow + absl::Hours(1));
  shaper.set_cap(0, &cap);
  EXPECT_EQ(shaper.MessagesAvailable(kNow), 1u);
  EXPECT_TRUE(shaper.AdmitMessage(0, kNow).go());
  EXPECT_EQ(shaper.AdmitMessage(0, kNow).limit(), kMessageRate);
  EXPECT_EQ(cap.left(), 4);
}

TEST(Admission, GoAndNotBefore) {
  EXPECT_TRUE(Admission::Go().go());
  const absl::Time t = absl::FromUnixSeconds(5);
  EXPECT_FALSE(Admission::NotBefore(t, "max_message_rate").go());
  EXPECT_EQ(Admission::NotBefore(t, "max_message_rate").not_before(), t);
}

}  // namespace
}  // namespace volley::shaping
