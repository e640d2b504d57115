// Message and connection rates as a receiving site sees them: the arrival times of messages and
// connections at a real sink, behind a real volleyd.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

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

using test_support::MostInAnyWindow;
using test_support::VolleydProcess;

class ShapingRates : public ::testing::Test {
 protected:
  // A volleyd routing rate.test to a sink, with `shaping` as the domain's table; every message
  // and every connection the sink sees is timed.
  void Start(const std::string& name, const std::string& shaping) {
    dir_ = test_support::FreshTestDir(name);
    test_support::SinkOptions sink_options;
    sink_options.on_message = [this](const bench::ReceivedMessage&) { messages_.Add(); };
    sink_options.on_connections_changed = [this](const std::string&, int delta) {
      if (delta > 0) connections_.Add();
    };
    auto sink = test_support::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = *std::move(sink);
    log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
    const std::string config_path = absl::StrCat(dir_, "/volley.toml");
    std::ofstream(config_path) << test_support::LoopbackConfig(absl::StrCat(dir_, "/spool"),
                                                               log_path_)
                               << test_support::RoutesToSinks({{"rate.test", sink_->port()}})
                               << "[shaping.\"rate.test\"]\n"
                               << shaping;
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = *std::move(volleyd);
  }

  // Injects `n` one-recipient messages as fast as the engine takes them and waits until every
  // recipient has its final record; returns the recipients.
  std::vector<std::string> InjectAndDeliver(int n, absl::Duration timeout) {
    std::vector<std::string> recipients;
    for (int i = 0; i < n; ++i) recipients.push_back(absl::StrCat("u", i, "@rate.test"));
    auto accepted = test_support::InjectEach(volleyd_->smtp_port(), recipients);
    EXPECT_TRUE(accepted.ok()) << accepted.status();
    if (accepted.ok()) {
      EXPECT_EQ(*accepted, recipients.size());
    }
    auto entries = test_support::WaitForFinalRecords(log_path_, recipients, timeout);
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (entries.ok()) {
      int delivered = 0;
      for (const test_support::LogEntry& e : *entries) delivered += e.type == "Delivery";
      EXPECT_EQ(delivered, n);
    }
    return recipients;
  }

  std::string dir_;
  std::string log_path_;
  test_support::ArrivalTimes messages_;
  test_support::ArrivalTimes connections_;
  std::unique_ptr<test_support::SmtpSink> sink_;
  std::unique_ptr<VolleydProcess> volleyd_;
};

// Arrival at the sink is admission plus a network round trip that varies by a little: two
// messages admitted apart may land in one window. This much is allowed over the exact bound.
constexpr size_t kJitterSlack = 2;

TEST_F(ShapingRates, MessageRateHoldsAtTheSink) {
  Start("message_rate", "max_message_rate = \"50/s\"\nmax_connection_rate = \"\"\n");
  constexpr int kMessages = 1500;
  InjectAndDeliver(kMessages, absl::Seconds(90));
  const std::vector<absl::Time> arrivals = messages_.Sorted();
  ASSERT_EQ(arrivals.size(), static_cast<size_t>(kMessages));
  // Without max_burst the first 50 may go at once; after them the backlog drains at 50/s.
  const double seconds = absl::ToDoubleSeconds(arrivals.back() - arrivals[49]);
  const double rate = (kMessages - 50) / seconds;
  EXPECT_GE(rate, 45.0) << seconds << " s";
  EXPECT_LE(rate, 55.0) << seconds << " s";
  // GCRA: in any window shorter than the period, at most quantity + max_burst - 1.
  const size_t most = MostInAnyWindow(arrivals, absl::Seconds(1));
  std::cout << "50/s: " << rate << " msg/s after the burst, at most " << most << " in any second\n";
  EXPECT_LE(most, 99 + kJitterSlack);
}

TEST_F(ShapingRates, MaxBurstOneSpacesMessagesEvenly) {
  Start("message_rate_burst1", "max_message_rate = \"50/s,max_burst=1\"\n");
  constexpr int kMessages = 300;
  InjectAndDeliver(kMessages, absl::Seconds(60));
  const std::vector<absl::Time> arrivals = messages_.Sorted();
  ASSERT_EQ(arrivals.size(), static_cast<size_t>(kMessages));
  const double seconds = absl::ToDoubleSeconds(arrivals.back() - arrivals.front());
  const double rate = (kMessages - 1) / seconds;
  EXPECT_GE(rate, 45.0) << seconds << " s";
  EXPECT_LE(rate, 55.0) << seconds << " s";
  // Never more than the rate in any second, from the very start.
  const size_t most = MostInAnyWindow(arrivals, absl::Seconds(1));
  std::cout << "50/s,max_burst=1: " << rate << " msg/s, at most " << most << " in any second\n";
  EXPECT_LE(most, 50 + kJitterSlack);
}

TEST_F(ShapingRates, ConnectionRateAndLimitHoldAtTheSink) {
  // One message per connection, so every message needs a new one.
  Start("connection_rate",
        "connection_limit = 3\nmax_deliveries_per_connection = 1\n"
        "max_connection_rate = \"10/s,max_burst=2\"\nmax_message_rate = \"\"\n");
  constexpr int kMessages = 60;
  InjectAndDeliver(kMessages, absl::Seconds(60));
  const std::vector<absl::Time> opened = connections_.Sorted();
  ASSERT_GE(opened.size(), static_cast<size_t>(kMessages));
  // 60 connections at 10/s (2 at once): about 5.9 s.
  const double seconds = absl::ToDoubleSeconds(opened.back() - opened.front());
  EXPECT_GE(seconds, (kMessages - 2) / 10.0 * 0.9);
  const size_t most = MostInAnyWindow(opened, absl::Seconds(1));
  std::cout << "10/s,max_burst=2: " << opened.size() << " connections in " << seconds
            << " s, at most " << most << " in any second\n";
  EXPECT_LE(most, 10 + 2 - 1 + kJitterSlack);
  EXPECT_LE(sink_->connection_stats("127.0.0.1").max_open, 3);
}

}  // namespace
}  // namespace volley
