// What happens to each recipient, as the delivery log tells it: a temporary failure that clears
// (retried after retry_initial), a refusal (bounce, classified), one that never clears (expires
// after max_age), several recipients of one message in one transaction with their own
// outcomes, and the connection limits. Faults come from the sink, keyed by local part.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "queue/spool.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::HttpGet;
using test_support::MetricValue;
using test_support::ReadFileOrEmpty;
using test_support::TestTempDir;
using test_support::VolleydProcess;

absl::string_view Field(absl::string_view line, absl::string_view name) {
  const std::string key = absl::StrCat("\"", name, "\":\"");
  const size_t at = line.find(key);
  if (at == absl::string_view::npos) return "";
  const size_t start = at + key.size();
  return line.substr(start, line.find('"', start) - start);
}

// Record types per recipient, in log order.
std::map<std::string, std::vector<std::string>> TypesByRecipient(const std::string& log) {
  std::map<std::string, std::vector<std::string>> out;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    out[std::string(Field(line, "recipient"))].push_back(std::string(Field(line, "type")));
  }
  return out;
}

std::string LastRecordFor(const std::string& log, absl::string_view recipient,
                          absl::string_view type) {
  std::string last;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (Field(line, "recipient") == recipient && Field(line, "type") == type) {
      last = std::string(line);
    }
  }
  return last;
}

TEST(DeliveryOutcomes, RetriesBouncesExpiryAndLimits) {
  const std::string dir = absl::StrCat(TestTempDir(), "/outcomes");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  test_support::SinkOptions sink_options;
  sink_options.addresses = {"127.0.0.1", "127.0.0.2"};
  sink_options.record = true;
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();

  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  {
    std::ofstream config(config_path);
    config << "[server]\nthreads = 2\nspool = \"" << dir << "/spool\"\nlog = \"" << log_path
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"127.0.0.1:9\"]\n"
           << "[delivery]\nretry_initial = \"1s\"\nretry_max = \"1s\"\nmax_age = \"4s\"\n"
           // The sender's domain is not routed: notices are dsn_test's.
           << "dsn = false\n"
           << "[shaping.default]\nconnection_limit = 2\nmax_deliveries_per_connection = 5\n"
           << "[routes]\n\"out.test\" = { host = \"127.0.0.1:" << (*sink)->port() << "\" }\n"
           << "\"other.test\" = { host = \"127.0.0.2:" << (*sink)->port() << "\" }\n";
  }
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  std::vector<std::vector<std::string>> messages;
  for (int i = 0; i < 20; ++i) messages.push_back({absl::StrCat("ok", i, "@out.test")});
  messages.push_back({"tempfailonce-a@out.test"});
  messages.push_back({"reject-b@out.test"});
  messages.push_back({"tempfail-c@out.test"});
  messages.push_back({"m1@out.test", "m2@out.test", "reject-m3@out.test"});
  messages.push_back({"x@out.test", "y@other.test"});

  bench::InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  injector.connections = 2;
  auto injected = bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "bounces@volley.test";
        m.recipients = messages[i];
        m.content = absl::StrCat("Subject: outcome ", i, "\r\n\r\nbody ", i, "\r\n");
        return m;
      },
      messages.size());
  ASSERT_TRUE(injected.ok()) << injected.status();
  for (const smtp::Reply& reply : injected->replies) ASSERT_EQ(reply.code, 250) << reply.Text();

  // Every recipient ends in Delivery or Bounce; the expiring one takes max_age.
  std::string log;
  std::map<std::string, std::vector<std::string>> types;
  size_t recipients = 0;
  for (const auto& m : messages) recipients += m.size();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    log = ReadFileOrEmpty(log_path);
    types = TypesByRecipient(log);
    size_t finished = 0;
    for (const auto& [rcpt, t] : types) {
      finished += !t.empty() && (t.back() == "Delivery" || t.back() == "Bounce");
    }
    if (finished == recipients) break;
    absl::SleepFor(absl::Milliseconds(100));
  }

  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(types[absl::StrCat("ok", i, "@out.test")],
              (std::vector<std::string>{"Reception", "Delivery"}));
  }
  // A temporary failure, then delivery on the retry.
  EXPECT_EQ(types["tempfailonce-a@out.test"],
            (std::vector<std::string>{"Reception", "TransientFailure", "Delivery"}));
  const std::string retried = LastRecordFor(log, "tempfailonce-a@out.test", "Delivery");
  EXPECT_TRUE(absl::StrContains(retried, "\"num_attempts\":2")) << retried;
  const std::string transient = LastRecordFor(log, "tempfailonce-a@out.test", "TransientFailure");
  EXPECT_TRUE(absl::StrContains(transient, "\"code\":451")) << transient;
  EXPECT_TRUE(absl::StrContains(transient, "\"command\":\"RCPT TO:<tempfailonce-a@out.test>\""))
      << transient;

  // A refusal bounces at once, classified.
  EXPECT_EQ(types["reject-b@out.test"], (std::vector<std::string>{"Reception", "Bounce"}));
  const std::string bounce = LastRecordFor(log, "reject-b@out.test", "Bounce");
  EXPECT_TRUE(absl::StrContains(bounce, "\"code\":550")) << bounce;
  EXPECT_TRUE(absl::StrContains(bounce, "\"bounce_classification\":\"InvalidRecipient\""))
      << bounce;

  // Never clears: retried until max_age, then Expiration and a MessageExpired bounce.
  const std::vector<std::string>& expiring = types["tempfail-c@out.test"];
  ASSERT_GE(expiring.size(), 4u);
  EXPECT_EQ(expiring.front(), "Reception");
  EXPECT_EQ(expiring[1], "TransientFailure");
  EXPECT_EQ(expiring[expiring.size() - 2], "Expiration");
  EXPECT_EQ(expiring.back(), "Bounce");
  EXPECT_TRUE(absl::StrContains(LastRecordFor(log, "tempfail-c@out.test", "Bounce"),
                                "\"bounce_classification\":\"MessageExpired\""));

  // One message, three recipients in one domain: one transaction, each its own outcome.
  EXPECT_EQ(types["m1@out.test"], (std::vector<std::string>{"Reception", "Delivery"}));
  EXPECT_EQ(types["m2@out.test"], (std::vector<std::string>{"Reception", "Delivery"}));
  EXPECT_EQ(types["reject-m3@out.test"], (std::vector<std::string>{"Reception", "Bounce"}));
  // One message, two domains: delivered separately.
  EXPECT_EQ(types["x@out.test"], (std::vector<std::string>{"Reception", "Delivery"}));
  EXPECT_EQ(types["y@other.test"], (std::vector<std::string>{"Reception", "Delivery"}));

  bool saw_m = false, saw_x = false, saw_y = false;
  for (const test_support::ReceivedMessage& m : (*sink)->TakeMessages()) {
    if (absl::c_linear_search(m.recipients, "m1@out.test")) {
      EXPECT_EQ(m.recipients, (std::vector<std::string>{"m1@out.test", "m2@out.test"}));
      saw_m = true;
    }
    if (m.recipients == std::vector<std::string>{"x@out.test"}) {
      EXPECT_EQ(m.local_address, "127.0.0.1");
      saw_x = true;
    }
    if (m.recipients == std::vector<std::string>{"y@other.test"}) {
      EXPECT_EQ(m.local_address, "127.0.0.2");
      saw_y = true;
    }
  }
  EXPECT_TRUE(saw_m && saw_x && saw_y);

  // connection_limit = 2 and max_deliveries_per_connection = 5 for out.test.
  const test_support::SmtpSink::ConnectionStats stats = (*sink)->connection_stats("127.0.0.1");
  EXPECT_LE(stats.max_open, 2);
  EXPECT_GE(stats.accepted, 5u) << "25 transactions at 5 per connection";

  auto metrics = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(MetricValue(metrics->body, "volley_deliveries_total{outcome=\"delivered\"}"), 25);
  EXPECT_EQ(MetricValue(metrics->body, "volley_deliveries_total{outcome=\"expired\"}"), 1);
  EXPECT_EQ(MetricValue(metrics->body, "volley_deliveries_total{outcome=\"bounced\"}"), 2);
  EXPECT_GE(MetricValue(metrics->body, "volley_deliveries_total{outcome=\"transient_failure\"}"),
            2);
  for (const char* state : {"scheduled", "ready", "in_flight"}) {
    EXPECT_EQ(MetricValue(metrics->body, absl::StrCat("volley_queue_size{state=\"", state, "\"}")),
              0)
        << state;
  }

  auto exit = (*volleyd)->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);

  // Nothing is left in the spool: every message went with its last recipient.
  auto spool = queue::Spool::Open(absl::StrCat(dir, "/spool"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  auto recovered = (*spool)->Recover([](const queue::MessageMeta&, auto) {});
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->messages, 0u);
  EXPECT_EQ(recovered->orphans_removed, 0u);
}

}  // namespace
}  // namespace volley
