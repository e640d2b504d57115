#include "engine/delivery/site_feedback.h"

#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000);
const ConnectTarget kHost{"mx.test", "127.0.0.5", 25};
const ConnectTarget kOther{"mx2.test", "127.0.0.6", 25};

TEST(SiteFeedback, ABusyHostTakesWhatWorkedUntilTheCapLapses) {
  SiteFeedback feedback;
  EXPECT_FALSE(feedback.any_host_cap(kNow));
  EXPECT_FALSE(feedback.HostFull(kHost, 5, kNow));
  feedback.HostBusy(kHost, 2, kNow);
  EXPECT_TRUE(feedback.any_host_cap(kNow));
  EXPECT_FALSE(feedback.HostFull(kHost, 1, kNow));
  EXPECT_TRUE(feedback.HostFull(kHost, 2, kNow));
  EXPECT_FALSE(feedback.HostFull(kOther, 9, kNow));
  // A second refusal with fewer working lowers it; it never goes up while it holds.
  feedback.HostBusy(kHost, 1, kNow + absl::Seconds(5));
  EXPECT_TRUE(feedback.HostFull(kHost, 1, kNow + absl::Seconds(5)));
  feedback.HostBusy(kHost, 3, kNow + absl::Seconds(6));
  EXPECT_TRUE(feedback.HostFull(kHost, 1, kNow + absl::Seconds(6)));
  // Lapsed: the host is tried with more again.
  const absl::Time later = kNow + absl::Seconds(6) + SiteFeedback::kLearnedFor;
  EXPECT_FALSE(feedback.HostFull(kHost, 1, later));
  EXPECT_FALSE(feedback.any_host_cap(later));
}

TEST(SiteFeedback, MessagesPerConnectionLearnedFromA421AtMail) {
  SiteFeedback feedback;
  EXPECT_FALSE(feedback.DeliveriesDone(1000, kNow));
  feedback.ConnectionEndedAfter(0, kNow);  // before any message: nothing to learn
  EXPECT_FALSE(feedback.DeliveriesDone(1000, kNow));
  feedback.ConnectionEndedAfter(5, kNow);
  EXPECT_FALSE(feedback.DeliveriesDone(4, kNow));
  EXPECT_TRUE(feedback.DeliveriesDone(5, kNow));
  feedback.ConnectionEndedAfter(7, kNow + absl::Seconds(1));  // the lower one holds
  EXPECT_TRUE(feedback.DeliveriesDone(5, kNow + absl::Seconds(1)));
  EXPECT_FALSE(feedback.DeliveriesDone(5, kNow + absl::Seconds(1) + SiteFeedback::kLearnedFor));
}

}  // namespace
}  // namespace volley::delivery
