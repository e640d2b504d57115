// A receiving site that limits us the way busy ones do, with no rule configured: it takes two
// connections at once (a third gets 421 at the greeting) and five messages per connection (the
// sixth MAIL gets 421 and the connection ends). Volley learns both from the refusals and
// delivers everything at once, without counting attempts for what the site never looked at.
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/arrival_times.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::VolleydProcess;

TEST(BusySite, AllMessagesArriveOnceWithinTheSitesLimits) {
  const std::string dir = test_support::FreshTestDir("busy_site");
  std::mutex mutex;
  absl::flat_hash_map<std::string, int> received;
  test_support::ArrivalTimes connections;
  test_support::SinkOptions sink_options;
  sink_options.max_connections = 2;
  sink_options.max_messages_per_connection = 5;
  sink_options.on_message = [&](const bench::ReceivedMessage& m) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const std::string& r : m.recipients) ++received[r];
  };
  sink_options.on_connections_changed = [&](const std::string&, int delta) {
    if (delta > 0) connections.Add();
  };
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  // The site's own limits are the defaults (10 connections, 100 messages per connection): far
  // above what it takes.
  std::ofstream(config_path) << test_support::LoopbackConfig(absl::StrCat(dir, "/spool"), log_path)
                             << test_support::RoutesToSinks({{"busy.test", (*sink)->port()}})
                             << "[shaping.default]\nmax_message_rate = \"\"\n"
                                "max_connection_rate = \"\"\n";
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  constexpr int kMessages = 600;
  std::vector<std::string> recipients;
  for (int i = 0; i < kMessages; ++i) recipients.push_back(absl::StrCat("u", i, "@busy.test"));
  const absl::Time start = absl::Now();
  auto accepted = test_support::InjectEach((*volleyd)->smtp_port(), recipients);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  auto entries = test_support::WaitForFinalRecords(log_path, recipients, absl::Seconds(60));
  if (!entries.ok()) {
    // What the site's queue says about itself, for the failure's message.
    auto explained = test_support::HttpGet(
        "127.0.0.1", (*volleyd)->http_port(),
        absl::StrCat("/api/admin/explain/v1?site=route:127.0.0.1:", (*sink)->port()));
    std::cout << "explain: " << (explained.ok() ? explained->body : "-") << "\n";
  }
  ASSERT_TRUE(entries.ok()) << entries.status().code();
  const absl::Duration took = absl::Now() - start;
  int delivered = 0;
  for (const test_support::LogEntry& e : *entries) delivered += e.type == "Delivery";
  EXPECT_EQ(delivered, kMessages);
  {
    std::lock_guard<std::mutex> lock(mutex);
    int wrong = 0;
    for (const std::string& r : recipients) wrong += received[r] != 1;
    EXPECT_EQ(wrong, 0);
  }
  // No attempt was counted for what the site refused before looking at it.
  int transient = 0;
  for (const test_support::LogEntry& e : test_support::ReadDeliveryLog(log_path)) {
    transient += e.type == "TransientFailure";
  }
  EXPECT_EQ(transient, 0);
  // 600 messages at five a connection need 120 connections; the refused ones come while Volley
  // learns, from the first burst of connections down to the two the site takes (16 here), and
  // when a learned cap lapses after a minute and is probed again.
  std::cout << kMessages << " messages in " << absl::FormatDuration(took) << " over "
            << connections.size() << " connections\n";
  EXPECT_LT(took, absl::Seconds(30));
  EXPECT_LE(connections.size(), 140u);
}

}  // namespace
}  // namespace volley
