// End to end, all real: unbound serving the test zones, the project's SMTP sink on several
// loopback addresses, and volleyd as a subprocess. 2,000 messages go in over pipelined SMTP;
// every deliverable one must arrive exactly once and byte-identical (behind our Received
// header), NXDOMAIN and null-MX recipients must bounce, and the domain whose first MX refuses
// connections must be delivered through its second MX.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/indexed_message.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/unbound_server.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::DnsRecord;
using test_support::HttpGet;
using test_support::MetricValue;
using test_support::ReadFileOrEmpty;
using test_support::TestTempDir;
using test_support::UnboundServer;
using test_support::VolleydProcess;

struct Plan {
  std::string domain;
  int messages;
  std::string expected_address;  // sink address that must receive them ("" for bounces)
};

const std::vector<Plan>& Plans() {
  static const auto* plans = new std::vector<Plan>{
      {"two-mx.test", 900, "127.0.0.3"},    // preference 10 wins over 20
      {"a-only.test", 500, "127.0.0.5"},    // no MX: implicit MX on the A record
      {"failover.test", 560, "127.0.0.6"},  // first MX refuses connections
      {"nx.test", 20, ""},                  // NXDOMAIN
      {"nullmx.test", 20, ""},              // MX 0 .
  };
  return *plans;
}

// Message i: unique, with lines that need dot-stuffing and a varying size.
std::string MessageContent(size_t i, const std::string& recipient) {
  std::string body =
      absl::StrCat("From: <sender@volley.test>\r\nTo: <", recipient, ">\r\nSubject: e2e ", i,
                   "\r\nMessage-ID: <", i, "@e2e.test>\r\n", test_support::IndexHeader(i), "\r\n");
  absl::StrAppend(&body, ".starts with a dot\r\n..two dots\r\n.\r\n");
  for (size_t line = 0; line < 10 + i % 40; ++line) {
    absl::StrAppend(&body, "line ", line, " of message ", i,
                    " -- the quick brown fox jumps over the lazy dog\r\n");
  }
  return body;
}

TEST(DeliveryEndToEnd, TwoThousandMessagesThroughRealDnsAndSinks) {
  const std::string dir = absl::StrCat(TestTempDir(), "/e2e");
  std::filesystem::create_directories(dir);

  // Sinks on four loopback addresses sharing one port; 127.0.0.2 on that port refuses.
  test_support::SinkOptions sink_options;
  sink_options.addresses = {"127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"};
  sink_options.record = true;
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();

  std::vector<DnsRecord> records = {
      {"two-mx.test", "MX", "10 mx1.two-mx.test."},
      {"two-mx.test", "MX", "20 mx2.two-mx.test."},
      {"mx1.two-mx.test", "A", "127.0.0.3"},
      {"mx2.two-mx.test", "A", "127.0.0.4"},
      {"a-only.test", "A", "127.0.0.5"},
      {"failover.test", "MX", "10 mx1.failover.test."},
      {"failover.test", "MX", "20 mx2.failover.test."},
      {"mx1.failover.test", "A", "127.0.0.2"},
      {"mx2.failover.test", "A", "127.0.0.6"},
      {"nullmx.test", "MX", "0 ."},
  };
  auto unbound = UnboundServer::Start(absl::StrCat(dir, "/unbound"), records);
  ASSERT_TRUE(unbound.ok()) << unbound.status();

  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  const std::string log_path = absl::StrCat(dir, "/log/delivery.jsonl");
  {
    std::ofstream config(config_path);
    config << "[server]\nhostname = \"volley.e2e.test\"\nthreads = 2\n"
           << "spool = \"" << dir << "/spool\"\nlog = \"" << log_path << "\"\n"
           << "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n"
           << "[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"" << (*unbound)->address() << "\"]\ntimeout = \"2s\"\n"
           << "[delivery]\nport = " << (*sink)->port()
           << "\nretry_initial = \"1s\"\nretry_max = \"2s\"\n"
           // The sender's domain does not exist here: notices are dsn_test's.
           << "dsn = false\n"
           << "[shaping.default]\nconnection_limit = 4\nmax_deliveries_per_connection = 50\n";
  }
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  // Which message goes where.
  std::vector<std::string> recipient_of;
  std::map<std::string, std::vector<size_t>> indices_by_domain;
  for (const Plan& plan : Plans()) {
    for (int i = 0; i < plan.messages; ++i) {
      const size_t index = recipient_of.size();
      recipient_of.push_back(absl::StrCat("user", index, "@", plan.domain));
      indices_by_domain[plan.domain].push_back(index);
    }
  }
  ASSERT_EQ(recipient_of.size(), 2000u);

  bench::InjectorOptions injector;
  injector.host = "127.0.0.1";
  injector.port = (*volleyd)->smtp_port();
  injector.connections = 8;
  injector.pipelining = true;
  auto result = bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "bounces@volley.test";
        m.recipients = {recipient_of[i]};
        m.content = MessageContent(i, recipient_of[i]);
        return m;
      },
      recipient_of.size());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->replies.size(), 2000u);
  std::set<std::string> queue_ids;
  for (const smtp::Reply& reply : result->replies) {
    ASSERT_EQ(reply.code, 250) << reply.Text();
    ASSERT_TRUE(absl::StartsWith(reply.Text(), "OK <")) << reply.Text();
    queue_ids.insert(reply.Text());
  }
  EXPECT_EQ(queue_ids.size(), 2000u) << "queue ids must be unique";

  constexpr int kDeliverable = 900 + 500 + 560;
  // [shaping.default] connection_limit = 4 holds for each destination.
  ASSERT_TRUE((*sink)->WaitForMessages(kDeliverable, absl::Seconds(90)))
      << "sink has " << (*sink)->messages() << "\n"
      << (*volleyd)->output();
  // Anything more would be a duplicate. The sink counts a message before it answers 250, and
  // volleyd logs a Delivery only after that 250, so once every recipient has its final record
  // and volleyd holds nothing (none scheduled for a retry, ready or in flight), every copy
  // volleyd could have sent has been counted: nothing more can arrive.
  auto finals = test_support::WaitForFinalRecords(log_path, recipient_of, absl::Seconds(90));
  ASSERT_TRUE(finals.ok()) << finals.status();
  const absl::Time drained_deadline = absl::Now() + absl::Seconds(30);
  std::string last_metrics;
  bool drained = false;
  while (!drained && absl::Now() < drained_deadline) {
    auto scrape = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
    ASSERT_TRUE(scrape.ok()) << scrape.status();
    last_metrics = scrape->body;
    drained = true;
    for (const char* state : {"scheduled", "ready", "in_flight"}) {
      if (MetricValue(last_metrics, absl::StrCat("volley_queue_size{state=\"", state, "\"}")) !=
          0) {
        drained = false;
      }
    }
    if (!drained) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(drained) << "volleyd's queue did not drain:\n" << last_metrics;
  std::vector<test_support::ReceivedMessage> received = (*sink)->TakeMessages();
  ASSERT_EQ(received.size(), static_cast<size_t>(kDeliverable));

  std::map<int, int> seen;
  for (const test_support::ReceivedMessage& m : received) {
    const int index = test_support::IndexOf(m.content);
    ASSERT_GE(index, 0);
    ++seen[index];
    const std::string& rcpt = recipient_of[static_cast<size_t>(index)];
    ASSERT_EQ(m.recipients, std::vector<std::string>{rcpt});
    EXPECT_EQ(m.mail_from, "bounces@volley.test");
    // Byte-identical behind the one Received header we prepend.
    const std::string original = MessageContent(static_cast<size_t>(index), rcpt);
    ASSERT_TRUE(absl::EndsWith(m.content, original)) << index;
    const std::string prefix = m.content.substr(0, m.content.size() - original.size());
    ASSERT_TRUE(absl::StartsWith(prefix, "Received: from ")) << prefix;
    for (absl::string_view line : absl::StrSplit(prefix, "\r\n", absl::SkipEmpty())) {
      if (!absl::StartsWith(line, "Received: ")) {
        EXPECT_TRUE(absl::StartsWith(line, "\t")) << "unexpected header line: " << line;
      }
    }
    const std::string domain = rcpt.substr(rcpt.find('@') + 1);
    for (const Plan& plan : Plans()) {
      if (plan.domain == domain) {
        EXPECT_EQ(m.local_address, plan.expected_address) << rcpt;
      }
    }
  }
  for (const Plan& plan : Plans()) {
    for (size_t index : indices_by_domain[plan.domain]) {
      EXPECT_EQ(seen[static_cast<int>(index)], plan.expected_address.empty() ? 0 : 1)
          << recipient_of[index];
    }
  }

  for (const char* address : {"127.0.0.3", "127.0.0.5", "127.0.0.6"}) {
    const test_support::SmtpSink::ConnectionStats stats = (*sink)->connection_stats(address);
    EXPECT_LE(stats.max_open, 4) << address;
    EXPECT_GE(stats.max_open, 1) << address;
  }
  // 900 messages at 50 per connection need at least 18 connections.
  EXPECT_GE((*sink)->connection_stats("127.0.0.3").accepted, 18u);
  EXPECT_EQ((*sink)->connection_stats("127.0.0.4").accepted, 0u) << "the preference-20 MX";

  // The bounces are in the delivery log with the right codes.
  std::vector<std::string> lines;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int bounces = 0;
  while (absl::Now() < deadline) {
    lines = absl::StrSplit(ReadFileOrEmpty(log_path), '\n', absl::SkipEmpty());
    bounces = 0;
    for (const std::string& line : lines) bounces += absl::StrContains(line, "\"type\":\"Bounce\"");
    if (bounces >= 40) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(bounces, 40);
  int receptions = 0, deliveries = 0, nx = 0, nullmx = 0, failover_deliveries = 0;
  for (const std::string& line : lines) {
    if (absl::StrContains(line, "\"type\":\"Reception\"")) ++receptions;
    if (absl::StrContains(line, "\"type\":\"Delivery\"")) {
      ++deliveries;
      if (absl::StrContains(line, "\"queue\":\"failover.test\"")) {
        EXPECT_TRUE(absl::StrContains(
            line, "\"peer_address\":{\"name\":\"mx2.failover.test\",\"addr\":\"127.0.0.6\"}"))
            << line;
        ++failover_deliveries;
      }
      if (absl::StrContains(line, "\"queue\":\"two-mx.test\"")) {
        EXPECT_TRUE(absl::StrContains(line, "\"addr\":\"127.0.0.3\"")) << line;
      }
    }
    if (absl::StrContains(line, "\"type\":\"Bounce\"")) {
      if (absl::StrContains(line, "\"queue\":\"nx.test\"")) {
        EXPECT_TRUE(absl::StrContains(line,
                                      "\"code\":550,\"enhanced_code\":{\"class\":5,"
                                      "\"subject\":1,\"detail\":2}"))
            << line;
        EXPECT_TRUE(absl::StrContains(line, "\"bounce_classification\":\"BadDomain\"")) << line;
        ++nx;
      }
      if (absl::StrContains(line, "\"queue\":\"nullmx.test\"")) {
        EXPECT_TRUE(absl::StrContains(line,
                                      "\"code\":556,\"enhanced_code\":{\"class\":5,"
                                      "\"subject\":1,\"detail\":10}"))
            << line;
        ++nullmx;
      }
    }
  }
  EXPECT_EQ(receptions, 2000);
  EXPECT_EQ(deliveries, kDeliverable);
  EXPECT_EQ(failover_deliveries, 560);
  EXPECT_EQ(nx, 20);
  EXPECT_EQ(nullmx, 20);

  // Metrics agree.
  auto metrics = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(MetricValue(metrics->body, "volley_messages_received_total{listener=\"smtp\"}"), 2000);
  EXPECT_EQ(MetricValue(metrics->body, "volley_deliveries_total{outcome=\"delivered\"}"),
            kDeliverable);
  EXPECT_EQ(MetricValue(metrics->body, "volley_deliveries_total{outcome=\"bounced\"}"), 40);
  EXPECT_EQ(MetricValue(metrics->body, "volley_queue_size{state=\"in_flight\"}"), 0);
  EXPECT_EQ(MetricValue(metrics->body, "volley_queue_size{state=\"scheduled\"}"), 0);
  // Every message made durable by a synced commit, several to a commit (the injector keeps
  // many transactions going at once).
  EXPECT_EQ(MetricValue(metrics->body, "volley_spool_synced_messages_total"), 2000);
  const double synced_commits = MetricValue(metrics->body, "volley_spool_synced_commits_total");
  EXPECT_GE(synced_commits, 1);
  EXPECT_LT(synced_commits, 2000);
  EXPECT_EQ(MetricValue(metrics->body, "volley_spool_commit_failures_total"), 0);
  // The resolvers' counters: MX answers for the MX domains, NODATA for the A-only one, NXDOMAIN,
  // and cache hits for the 2,000 messages' domains resolved far fewer times.
  EXPECT_GE(MetricValue(metrics->body, "volley_dns_lookups_total{type=\"mx\",result=\"ok\"}"), 3);
  EXPECT_GE(MetricValue(metrics->body, "volley_dns_lookups_total{type=\"mx\",result=\"nodata\"}"),
            1);
  EXPECT_GE(MetricValue(metrics->body, "volley_dns_lookups_total{type=\"mx\",result=\"nxdomain\"}"),
            1);
  EXPECT_GE(MetricValue(metrics->body, "volley_dns_lookups_total{type=\"a\",result=\"ok\"}"), 4);
  // An answer another domain's lookup already has is a cache hit, or, while that lookup is still
  // in flight, coalesced with it: which one is timing.
  EXPECT_GT(MetricValue(metrics->body, "volley_dns_cache_hits_total") +
                MetricValue(metrics->body, "volley_dns_coalesced_total"),
            0);
  EXPECT_GT(MetricValue(metrics->body, "volley_dns_lookup_seconds_count"), 0);
  auto live = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/api/check-liveness/v1");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->status, 200);

  auto exit = (*volleyd)->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0) << exit->output;
}

}  // namespace
}  // namespace volley
