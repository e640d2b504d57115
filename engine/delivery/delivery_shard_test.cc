// The delivery logic of one shard, driven by hand (delivery_shard_fixture.h).
#include "engine/delivery/delivery_shard.h"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/delivery/delivery_shard_fixture.h"
#include "engine/smtp/local_replies.h"
#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

TEST_F(DeliveryShardTest, ADeliveryEndsTheRecipientInTheSpool) {
  const queue::MessageId id = Inject({"a@example.test"}, "", "", R"({"user_id":"u-1"})");
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  // The MX hosts in preference order.
  ASSERT_EQ(c->targets().size(), 2u);
  EXPECT_EQ(c->targets()[0].address, "192.0.2.1");
  EXPECT_EQ(c->targets()[1].address, "192.0.2.2");
  OnShard([&] { c->Ready(); });
  OnShard([&] {
    ASSERT_TRUE(c->transaction().has_value());
    EXPECT_EQ(c->transaction()->recipients.size(), 1u);
    c->Complete({Reply(250, "2.0.0", "ok")});
  });
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, EventType::kDelivery);
  EXPECT_EQ(seen[0].attempts, 1u);
  // The message's metadata reaches its Delivery event (the log record's "meta").
  EXPECT_EQ(seen[0].metadata, R"({"user_id":"u-1"})");
  EXPECT_TRUE(Spooled(id).empty());
}

TEST_F(DeliveryShardTest, RetriesDoubleFromRetryInitialWithinTenPercentUntilRetryMax) {
  const queue::MessageId id = Inject({"a@example.test"});
  absl::Duration expected = absl::Minutes(5);
  for (uint32_t attempt = 1; attempt <= 6; ++attempt) {
    FakeConnection* c = Connection(static_cast<int>(attempt) - 1);
    ASSERT_NE(c, nullptr) << attempt;
    OnShard([&] { c->Ready(); });
    ASSERT_TRUE(HasTransaction(c)) << attempt;
    const absl::Time failed_at = clock_.Now();
    OnShard([&] { c->Complete({Reply(451, "4.3.0", "later")}); });
    std::vector<Seen> seen = sink_.Take();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].type, EventType::kTransientFailure);
    EXPECT_EQ(seen[0].attempts, attempt);
    std::vector<queue::RecipientRecord> spooled = Spooled(id);
    ASSERT_EQ(spooled.size(), 1u);
    EXPECT_EQ(spooled[0].attempts, attempt);
    const absl::Duration delay = spooled[0].next_due - failed_at;
    EXPECT_GE(delay, expected * 0.9) << attempt;
    EXPECT_LT(delay, expected * 1.1) << attempt;
    EXPECT_EQ(spooled[0].last_response, "451 later");
    expected = std::min(expected * 2, absl::Hours(1));
    // The connection goes (the site has no more work); the retry comes due.
    OnShard([&] { fakes_.CloseQuitting(); });
    OnShard([&] { c->Close(ConnectionOwner::CloseInfo{.was_ready = true}); });
    // Not due a moment before its time...
    clock_.Set(spooled[0].next_due - absl::Seconds(1));
    RunDue();
    EXPECT_EQ(fakes_.made(), static_cast<int>(attempt));
    // (The spool keeps microseconds; the second covers the rounding.)
    clock_.Set(spooled[0].next_due + absl::Seconds(1));
    RunDue();
  }
}

TEST_F(DeliveryShardTest, TooManyRecipientsContinueInTheNextTransactionWithoutAnAttempt) {
  const queue::MessageId id = Inject({"a@example.test", "b@example.test", "c@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });
  OnShard([&] {
    ASSERT_TRUE(c->transaction().has_value());
    ASSERT_EQ(c->transaction()->recipients.size(), 3u);
    // The server took one and said "enough for this transaction" to the others.
    c->Complete({Reply(250, "2.1.5", "ok"), TooMany(), TooMany()});
  });
  // They lead the next transaction, on the same connection.
  OnShard([&] {
    ASSERT_TRUE(c->transaction().has_value());
    ASSERT_EQ(c->transaction()->recipients.size(), 2u);
    EXPECT_EQ(c->transaction()->recipients[0].address, "b@example.test");
    EXPECT_EQ(c->transaction()->recipients[1].address, "c@example.test");
    c->Complete({Reply(250, "2.1.5", "ok"), Reply(250, "2.1.5", "ok")});
  });
  EXPECT_EQ(c->transactions_started(), 2);
  EXPECT_EQ(fakes_.made(), 1);
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 3u);
  for (const Seen& s : seen) {
    EXPECT_EQ(s.type, EventType::kDelivery) << s.recipient;
    EXPECT_EQ(s.attempts, 1u) << s.recipient;  // the 452 counted no attempt
  }
  EXPECT_TRUE(Spooled(id).empty());
}

TEST_F(DeliveryShardTest, AHostThatFailedIsSkippedForThirtySeconds) {
  Inject({"a@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] {
    c->FailTarget(0);  // mx1 refused the connection; the connection went on to mx2
    c->Ready();
  });
  OnShard([&] { c->Complete({Reply(250, "2.0.0", "ok")}); });
  // The connection is busy no more, but the limit is one connection: close it to make room.
  OnShard([&] { c->Close(ConnectionOwner::CloseInfo{.was_ready = true}); });
  Inject({"b@example.test"});
  FakeConnection* second = Connection(1);
  ASSERT_NE(second, nullptr);
  ASSERT_EQ(second->targets().size(), 1u);
  EXPECT_EQ(second->targets()[0].address, "192.0.2.2");
  OnShard([&] { second->Close(ConnectionOwner::CloseInfo{.was_ready = true}); });
  // Once the thirty seconds are over, mx1 is tried first again.
  clock_.Advance(HostHealth::kFailedHostDelay);
  Inject({"c@example.test"});
  FakeConnection* third = Connection(2);
  ASSERT_NE(third, nullptr);
  ASSERT_EQ(third->targets().size(), 2u);
  EXPECT_EQ(third->targets()[0].address, "192.0.2.1");
}

TEST_F(DeliveryShardTest, WhenEveryHostFailedRecentlyTheRecipientsWaitWithoutAConnection) {
  Inject({"a@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  // Both hosts refuse: no session anywhere.
  OnShard([&] {
    c->FailTarget(0);
    c->FailTarget(1);
    c->Close(ConnectionOwner::CloseInfo{.error = "connect to mx2: connection refused"});
  });
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, EventType::kTransientFailure);
  EXPECT_EQ(seen[0].code, 451);
  EXPECT_EQ(seen[0].enhanced, "4.4.1");
  EXPECT_EQ(seen[0].classification, bounce::BounceClass::kNoAnswerFromHost);
  // A new message within the thirty seconds opens no connection to hosts known to be down, and
  // waiting for them is no attempt: no record, it waits in the site's queue.
  Inject({"b@example.test"});
  ASSERT_TRUE(WaitFor([&] {
    metrics::ScrapeTotals totals;
    delivery_->Collect(&totals);
    return totals.queue[static_cast<size_t>(metrics::QueueState::kReady)] == 1;
  }));
  EXPECT_TRUE(sink_.Take().empty());
  EXPECT_EQ(fakes_.made(), 1);
  // Once the pause is over the next arrival finds the hosts usable again, and both go.
  clock_.Advance(HostHealth::kFailedHostDelay + absl::Seconds(1));
  Inject({"c@example.test"});
  ASSERT_TRUE(WaitFor([&] { return fakes_.made() == 2; }));
  FakeConnection* again = Connection(1);
  ASSERT_NE(again, nullptr);
  OnShard([&] { again->Ready(); });
  ASSERT_TRUE(HasTransaction(again));
  OnShard([&] { EXPECT_EQ(again->transaction()->recipients[0].address, "b@example.test"); });
}

TEST_F(DeliveryShardTest, ExpiryWhileScheduled) {
  const queue::MessageId id = Inject({"a@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });
  OnShard([&] { c->Complete({Reply(451, "4.3.0", "later")}); });
  OnShard([&] { c->Close(ConnectionOwner::CloseInfo{.was_ready = true}); });
  sink_.Take();
  // The message passes max_age while its retry waits; when the retry comes due it expires
  // instead of being tried.
  config_.delivery.max_age = absl::Minutes(3);
  clock_.Advance(absl::Minutes(6));
  RunDue();
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type, EventType::kExpiration);
  EXPECT_EQ(seen[0].enhanced, "4.4.7");
  EXPECT_EQ(seen[0].text, "message expired; last error: 451 later");
  EXPECT_EQ(seen[1].type, EventType::kBounce);
  EXPECT_EQ(seen[1].code, 551);
  EXPECT_TRUE(seen[1].expired);
  EXPECT_EQ(seen[1].classification, bounce::BounceClass::kMessageExpired);
  EXPECT_EQ(fakes_.made(), 1);  // no second attempt
  // The sender hears of it (RFC 3464): failed, delivery time expired, the server's last word.
  const std::string notice = NoticeFor(id);
  EXPECT_TRUE(absl::StrContains(notice, "Action: failed\r\nStatus: 4.4.7\r\n")) << notice;
  EXPECT_TRUE(absl::StrContains(notice, "Diagnostic-Code: smtp; 451 later")) << notice;
  EXPECT_TRUE(absl::StrContains(notice, "To: <sender@origin.test>")) << notice;
  EXPECT_TRUE(Spooled(id).empty());
}

TEST_F(DeliveryShardTest, ExpiryWhileReady) {
  Inject({"a@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });  // busy with a's transaction: the only connection allowed
  const queue::MessageId waiting = Inject({"b@example.test"});
  clock_.Advance(config_.delivery.max_age);
  OnShard([&] { delivery_->SweepForTest(); });
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].recipient, "b@example.test");
  EXPECT_EQ(seen[0].type, EventType::kExpiration);
  EXPECT_EQ(seen[0].text, "message expired before it could be delivered");
  EXPECT_EQ(seen[0].attempts, 0u);  // never offered
  EXPECT_EQ(seen[1].type, EventType::kBounce);
  EXPECT_TRUE(absl::StrContains(NoticeFor(waiting), "Status: 4.4.7"));
  EXPECT_TRUE(Spooled(waiting).empty());
  // The transaction in flight is not touched by the sweep.
  OnShard([&] { EXPECT_TRUE(c->transaction().has_value()); });
}

TEST_F(DeliveryShardTest, ExpiryInFlight) {
  const queue::MessageId id = Inject({"a@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  OnShard([&] { c->Ready(); });
  // max_age passes during the transaction; its transient failure ends the recipient.
  clock_.Advance(config_.delivery.max_age);
  OnShard([&] { c->Complete({Reply(451, "4.3.0", "busy")}); });
  std::vector<Seen> seen = sink_.Take();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type, EventType::kExpiration);
  EXPECT_EQ(seen[0].code, 451);  // the server's last word
  EXPECT_EQ(seen[0].attempts, 1u);
  EXPECT_EQ(seen[1].type, EventType::kBounce);
  EXPECT_TRUE(absl::StrContains(seen[1].text, "expired after 1 attempts; last error: 451"))
      << seen[1].text;
  const std::string notice = NoticeFor(id);
  EXPECT_TRUE(absl::StrContains(notice, "Status: 4.4.7")) << notice;
  EXPECT_TRUE(absl::StrContains(notice, "Diagnostic-Code: smtp; 451 4.3.0 busy")) << notice;
  EXPECT_TRUE(Spooled(id).empty());
}

TEST_F(DeliveryShardTest, ANonexistentDomainBouncesWithoutAConnection) {
  dns::MxResult nxdomain;
  nxdomain.outcome = dns::MxOutcome::kNxDomain;
  nxdomain.expires = absl::InfinitePast();
  OnShard([&] { resolver_->SetAnswer("nowhere.test", nxdomain); });
  const queue::MessageId id = Inject({"a@nowhere.test"});
  std::vector<Seen> seen;
  ASSERT_TRUE(WaitFor([&] {
    for (Seen& s : sink_.Take()) seen.push_back(std::move(s));
    return !seen.empty();
  }));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, EventType::kBounce);
  EXPECT_EQ(seen[0].code, 550);
  EXPECT_EQ(seen[0].enhanced, "5.1.2");
  EXPECT_EQ(seen[0].classification, bounce::BounceClass::kBadDomain);
  EXPECT_EQ(fakes_.made(), 0);
  // No server answered: no Remote-MTA, no Diagnostic-Code, the local verdict in words.
  const std::string notice = NoticeFor(id);
  EXPECT_TRUE(absl::StrContains(notice, "Action: failed\r\nStatus: 5.1.2\r\n")) << notice;
  EXPECT_FALSE(absl::StrContains(notice, "Remote-MTA")) << notice;
  EXPECT_TRUE(Spooled(id).empty());
}

TEST_F(DeliveryShardTest, QueueSizesAreReadFromTheQueues) {
  Inject({"a@example.test", "b@example.test"});
  FakeConnection* c = Connection(0);
  ASSERT_NE(c, nullptr);
  metrics::ScrapeTotals before;
  OnShard([&] { delivery_->Collect(&before); });
  EXPECT_EQ(before.queue[static_cast<size_t>(metrics::QueueState::kReady)], 2);
  EXPECT_EQ(before.connections[static_cast<size_t>(metrics::Direction::kOutbound)], 1);
  OnShard([&] { c->Ready(); });
  metrics::ScrapeTotals during;
  OnShard([&] { delivery_->Collect(&during); });
  EXPECT_EQ(during.queue[static_cast<size_t>(metrics::QueueState::kReady)], 0);
  EXPECT_EQ(during.queue[static_cast<size_t>(metrics::QueueState::kInFlight)], 2);
  OnShard([&] { c->Complete({Reply(451, "4.3.0", "x"), Reply(250, "2.0.0", "ok")}); });
  metrics::ScrapeTotals after;
  OnShard([&] { delivery_->Collect(&after); });
  EXPECT_EQ(after.queue[static_cast<size_t>(metrics::QueueState::kInFlight)], 0);
  EXPECT_EQ(after.queue[static_cast<size_t>(metrics::QueueState::kScheduled)], 1);
}

}  // namespace
}  // namespace volley::delivery
