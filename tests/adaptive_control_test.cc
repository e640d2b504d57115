// Closed-loop control against a real volleyd and sink: when the sink's replies slow from 5 ms
// to 500 ms under load, the path's connection concurrency comes down; when they are fast again
// it climbs back to the configured limit; every message arrives once.
#include <atomic>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/relay_world.h"

namespace volley {
namespace {

TEST(AdaptiveControl, ConcurrencyFollowsTheSitesLatencyDownAndBackUp) {
  auto delay_us = std::make_shared<std::atomic<int64_t>>(5000);
  test_support::RelayWorld world;
  test_support::RelayOptions options;
  options.name = "adaptive_control";
  options.sink.reply_delay_us = delay_us;
  options.domains = {"slow.test"};
  options.shaping_default = "connection_limit = 10\n";
  ASSERT_TRUE(world.Start(std::move(options)).ok());
  const std::string& log_path = world.log_path();
  // The path's control read-out.
  auto control = [&]() -> nlohmann::json {
    const nlohmann::json q = world.Explain();
    if (!q.is_object() || q["adaptive"].empty()) return nlohmann::json();
    return q["adaptive"][0];
  };
  auto limit_now = [&]() {
    const nlohmann::json c = control();
    return c.is_object() ? c["connection_limit"].get<int>() : -1;
  };
  std::vector<std::string> all;
  auto send = [&](const std::string& prefix, int n) {
    std::vector<std::string> batch;
    for (int i = 0; i < n; ++i) batch.push_back(absl::StrCat(prefix, i, "@slow.test"));
    auto accepted = test_support::InjectEach(world.volleyd().smtp_port(), batch, 4);
    EXPECT_TRUE(accepted.ok() && *accepted == batch.size());
    all.insert(all.end(), batch.begin(), batch.end());
    return batch;
  };

  // Fast: the path stays at its configured limit.
  auto fast = send("a", 200);
  ASSERT_TRUE(test_support::WaitForFinalRecords(log_path, fast, absl::Seconds(60)).ok());
  EXPECT_EQ(limit_now(), 10);

  // Slow: 500 ms a reply. Concurrency comes down, and the read-out says why.
  delay_us->store(500'000);
  send("b", 30);
  int lowest = 10;
  nlohmann::json cut;
  const absl::Time slow_deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < slow_deadline && lowest > 2) {
    const nlohmann::json c = control();
    if (c.is_object() && c["connection_limit"].get<int>() < lowest) {
      lowest = c["connection_limit"].get<int>();
      cut = c;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::cout << "lowest connection_limit while slow: " << lowest << " (" << cut.dump() << ")\n";
  EXPECT_LE(lowest, 2);
  ASSERT_TRUE(cut.is_object());
  EXPECT_EQ(cut["last_signal"], "latency rising");
  EXPECT_EQ(cut["configured_connection_limit"], 10);
  EXPECT_TRUE(cut["increase_after"].is_string()) << cut.dump();

  // Fast again, under load: it climbs back to the limit.
  delay_us->store(5000);
  const absl::Time fast_again = absl::Now();
  // Load in rounds of 300 messages, each delivered before the next (at most 40 rounds, 90 s),
  // until the limit is back: growth needs a path that uses what it has.
  const absl::Time climb_deadline = absl::Now() + absl::Seconds(90);
  int limit = -1;
  for (int round = 0; round < 40 && absl::Now() < climb_deadline; ++round) {
    auto batch = send(absl::StrCat("c", round, "-"), 300);
    ASSERT_TRUE(test_support::WaitForFinalRecords(log_path, batch, absl::Seconds(60)).ok());
    if ((limit = limit_now()) == 10) break;
  }
  std::cout << "back at 10 connections " << absl::FormatDuration(absl::Now() - fast_again)
            << " after latency returned\n";
  EXPECT_EQ(limit, 10) << control().dump();

  auto entries = test_support::WaitForFinalRecords(log_path, all, absl::Seconds(120));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(world.NotOnce(all), 0);
}

}  // namespace
}  // namespace volley
