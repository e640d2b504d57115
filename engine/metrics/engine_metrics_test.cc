#include "engine/metrics/engine_metrics.h"

#include <string>

#include "absl/strings/match.h"
#include "engine/metrics/event_counters.h"
#include "gtest/gtest.h"

namespace volley::metrics {
namespace {

events::RecipientEvent EventOf(events::EventType type, const smtp::Reply& reply, bool remote) {
  events::RecipientEvent e;
  e.type = type;
  e.reply = &reply;
  e.remote_reply = remote;
  e.created = absl::FromUnixSeconds(100);
  e.timestamp = absl::FromUnixSeconds(101);
  return e;
}

TEST(EngineMetrics, EventsBecomeCountersSummedOverShards) {
  EngineMetrics metrics(2);
  EventCounters shard0(&metrics, 0);
  EventCounters shard1(&metrics, 1);
  const smtp::Reply ok = smtp::MakeReply(250, "2.0.0", "ok");
  const smtp::Reply later = smtp::MakeReply(451, "4.3.0", "later");
  const smtp::Reply expired = smtp::MakeReply(551, "5.4.7", "expired");
  shard0.OnMessageReceived({"smtp", 2});
  shard1.OnMessageReceived({"smtp", 1});
  shard0.OnEvent(EventOf(events::EventType::kReception, ok, false));
  shard0.OnEvent(EventOf(events::EventType::kDelivery, ok, true));
  shard1.OnEvent(EventOf(events::EventType::kDelivery, ok, true));
  shard1.OnEvent(EventOf(events::EventType::kTransientFailure, later, true));
  // An expiry: the server's last reply, then our bounce, counted once as expired.
  shard1.OnEvent(EventOf(events::EventType::kExpiration, later, true));
  events::RecipientEvent bounce = EventOf(events::EventType::kBounce, expired, false);
  bounce.expired = true;
  shard1.OnEvent(bounce);
  shard0.OnEvent(EventOf(events::EventType::kBounce, expired, false));
  metrics.CountSpoolCommit(absl::Milliseconds(2), 5, true);
  metrics.CountSpoolCommit(absl::Milliseconds(1), 0, true);  // removals only
  metrics.CountSpoolCommit(absl::Milliseconds(3), 3, false);

  ScrapeTotals totals;
  totals.queue = {7, 3, 2};
  totals.connections = {4, 1};
  const std::string text = metrics.Render(totals);
  EXPECT_TRUE(absl::StrContains(text, "volley_messages_received_total{listener=\"smtp\"} 2\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "volley_deliveries_total{outcome=\"delivered\"} 2\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "volley_deliveries_total{outcome=\"transient_failure\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_deliveries_total{outcome=\"expired\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_deliveries_total{outcome=\"bounced\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_smtp_replies_total{class=\"2xx\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_smtp_replies_total{class=\"4xx\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_smtp_replies_total{class=\"5xx\"} 0\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_delivery_latency_seconds_count 2\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_queue_size{state=\"scheduled\"} 7\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_queue_size{state=\"ready\"} 3\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_connections_open{direction=\"inbound\"} 4\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_spool_commit_failures_total 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_spool_synced_commits_total 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_spool_synced_messages_total 5\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_spool_commit_seconds_count 3\n"));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE volley_dns_lookups_total counter\n"));
}

TEST(EngineMetricsTest, MessagesAreCountedByTheirListener) {
  EngineMetrics metrics(/*shards=*/1);
  metrics.AddListener("submission");
  EventCounters counters(&metrics, 0);
  counters.OnMessageReceived({"submission", 1});
  counters.OnMessageReceived({"submission", 3});
  counters.OnMessageReceived({"dsn", 1});
  counters.OnMessageReceived({"not-a-listener", 1});  // counted as smtp
  const std::string text = metrics.Render(ScrapeTotals());
  EXPECT_TRUE(
      absl::StrContains(text, "volley_messages_received_total{listener=\"submission\"} 2\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "volley_messages_received_total{listener=\"dsn\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "volley_messages_received_total{listener=\"smtp\"} 1\n"));
}

TEST(EngineMetrics, ScheduledIsWhatTheSpoolHoldsBeyondReadyAndInFlight) {
  EngineMetrics metrics(1);
  ScrapeTotals totals;
  totals.queue = {5, 10, 3};  // in-memory scheduled: replaced by the spool's view
  totals.spooled_recipients = 1000;
  std::string text = metrics.Render(totals);
  EXPECT_TRUE(absl::StrContains(text, "volley_queue_size{state=\"scheduled\"} 987\n")) << text;
  totals.spooled_recipients = 4;  // fewer than are active: never negative
  text = metrics.Render(totals);
  EXPECT_TRUE(absl::StrContains(text, "volley_queue_size{state=\"scheduled\"} 0\n")) << text;
}

}  // namespace
}  // namespace volley::metrics
