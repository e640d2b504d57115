// SIGHUP under load, as a receiving site sees it: a real volleyd draining a backlog to real
// sinks is given a new file; the new limits and routes show at the sinks, no connection is
// dropped, and every message arrives exactly once. A file with errors changes nothing.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/arrival_times.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::ArrivalTimes;
using test_support::MostInAnyWindow;
using test_support::SmtpSink;
using test_support::VolleydProcess;
using ::testing::HasSubstr;

// Arrival at the sink is admission plus a network round trip that varies by a little.
constexpr size_t kJitterSlack = 2;

// One sink and what it saw: every message's arrival, each recipient's count, connections
// opened and closed.
struct TimedSink {
  ArrivalTimes messages;
  ArrivalTimes opened;
  ArrivalTimes closed;
  std::mutex mutex;
  absl::flat_hash_map<std::string, int> received;         // recipient -> times
  std::vector<std::pair<absl::Time, std::string>> peers;  // each message's client address
  // Last, so that it stops (and calls back no more) before the rest goes.
  std::unique_ptr<SmtpSink> sink;

  void Start() {
    test_support::SinkOptions options;
    options.on_message = [this](const bench::ReceivedMessage& message) {
      messages.Add();
      std::lock_guard<std::mutex> lock(mutex);
      for (const std::string& r : message.recipients) ++received[r];
      peers.emplace_back(absl::Now(), message.peer_address);
    };
    options.on_connections_changed = [this](const std::string&, int delta) {
      (delta > 0 ? opened : closed).Add();
    };
    auto started = SmtpSink::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    sink = *std::move(started);
  }
  // The client addresses that sent messages from `since` on.
  std::set<std::string> PeersSince(absl::Time since) {
    std::lock_guard<std::mutex> lock(mutex);
    std::set<std::string> out;
    for (const auto& [when, peer] : peers) {
      if (when >= since) out.insert(peer);
    }
    return out;
  }
  int Received(const std::string& recipient) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = received.find(recipient);
    return it == received.end() ? 0 : it->second;
  }
};

class ShapingReload : public ::testing::Test {
 protected:
  void SetUp() override {
    first_.Start();
    second_.Start();
  }

  // Writes the config: reload.test goes to the first or the second sink, with `shaping` as its
  // [shaping."reload.test"] table.
  void WriteConfig(bool to_second, const std::string& shaping, const std::string& extra = "") {
    const uint16_t port = (to_second ? second_ : first_).sink->port();
    std::ofstream(config_path_, std::ios::trunc)
        << test_support::LoopbackConfig(absl::StrCat(dir_, "/spool"), log_path_)
        << test_support::RoutesToSinks({{"reload.test", port}}) << extra
        << "[shaping.\"reload.test\"]\n"
        << shaping;
  }

  void Start(const std::string& name, const std::string& shaping, const std::string& extra = "") {
    dir_ = test_support::FreshTestDir(name);
    config_path_ = absl::StrCat(dir_, "/volley.toml");
    log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
    WriteConfig(false, shaping, extra);
    auto volleyd = VolleydProcess::Start(config_path_, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = *std::move(volleyd);
  }

  std::vector<std::string> Inject(int n) {
    std::vector<std::string> recipients;
    for (int i = 0; i < n; ++i) recipients.push_back(absl::StrCat("u", i, "@reload.test"));
    auto accepted = test_support::InjectEach(volleyd_->smtp_port(), recipients);
    EXPECT_TRUE(accepted.ok()) << accepted.status();
    if (accepted.ok()) {
      EXPECT_EQ(*accepted, recipients.size());
    }
    return recipients;
  }

  // Waits until `count` messages have reached the sinks (at most `timeout`).
  bool WaitForArrivals(size_t count, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (first_.messages.size() + second_.messages.size() < count) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

  // Once `arrived` messages are at the sinks, rewrites the config (as WriteConfig) and sends
  // SIGHUP; expects volleyd's answer to say it applied `table`. Returns when the signal went.
  absl::Time ReloadAfter(size_t arrived, bool to_second, const std::string& shaping,
                         const std::string& extra, absl::string_view table) {
    EXPECT_TRUE(WaitForArrivals(arrived, absl::Seconds(30)));
    WriteConfig(to_second, shaping, extra);
    const absl::Time reloaded = absl::Now();
    auto answer = volleyd_->Reload();
    EXPECT_TRUE(answer.ok()) << answer.status();
    if (answer.ok()) {
      EXPECT_THAT(*answer, HasSubstr("SIGHUP: reloaded"));
      EXPECT_THAT(*answer, HasSubstr(absl::StrCat("applied ", table)));
    }
    return reloaded;
  }

  // Every recipient got its Delivery record and arrived exactly once, at one of the sinks.
  void ExpectEachDeliveredOnce(const std::vector<std::string>& recipients, absl::Duration timeout) {
    auto entries = test_support::WaitForFinalRecords(log_path_, recipients, timeout);
    ASSERT_TRUE(entries.ok()) << entries.status();
    int delivered = 0;
    for (const test_support::LogEntry& e : *entries) delivered += e.type == "Delivery";
    EXPECT_EQ(delivered, static_cast<int>(recipients.size()));
    int wrong = 0;
    for (const std::string& r : recipients) {
      const int times = first_.Received(r) + second_.Received(r);
      if (times != 1 && ++wrong <= 5) ADD_FAILURE() << r << " arrived " << times << " times";
    }
    EXPECT_EQ(wrong, 0);
  }

  std::string dir_;
  std::string config_path_;
  std::string log_path_;
  TimedSink first_;
  TimedSink second_;
  std::unique_ptr<VolleydProcess> volleyd_;
};

// Many deliveries per connection, so that a connection that closed was closed by the reload.
constexpr char kSteadyConnections[] =
    "connection_limit = 2\nmax_deliveries_per_connection = 100000\nmax_connection_rate = \"\"\n";

TEST_F(ShapingReload, LowerRateShowsWithinASecond) {
  Start("lower_rate",
        absl::StrCat(kSteadyConnections, "max_message_rate = \"400/s,max_burst=20\"\n"));
  constexpr int kMessages = 1200;
  const std::vector<std::string> recipients = Inject(kMessages);
  const absl::Time reloaded = ReloadAfter(
      300, false, absl::StrCat(kSteadyConnections, "max_message_rate = \"100/s,max_burst=20\"\n"),
      "", "[shaping]");
  ExpectEachDeliveredOnce(recipients, absl::Seconds(60));

  const std::vector<absl::Time> arrivals = first_.messages.Sorted();
  ASSERT_EQ(arrivals.size(), static_cast<size_t>(kMessages));
  // Before: the old rate (far above the new one).
  std::vector<absl::Time> before;
  std::vector<absl::Time> after;  // from a second after the reload on
  for (absl::Time t : arrivals) {
    if (t < reloaded) before.push_back(t);
    if (t >= reloaded + absl::Seconds(1)) after.push_back(t);
  }
  ASSERT_GE(before.size(), 300u);
  ASSERT_GE(after.size(), 300u);
  const double rate_before =
      (before.size() - 20) / absl::ToDoubleSeconds(before.back() - before[19]);
  const double rate_after = (after.size() - 1) / absl::ToDoubleSeconds(after.back() - after[0]);
  const size_t most_after = MostInAnyWindow(after, absl::Seconds(1));
  std::cout << "before the reload " << rate_before << " msg/s; from 1 s after it " << rate_after
            << " msg/s, at most " << most_after << " in any second\n";
  EXPECT_GE(rate_before, 200.0);
  EXPECT_GE(rate_after, 90.0);
  EXPECT_LE(rate_after, 110.0);
  // GCRA: at most quantity + max_burst - 1 in any window shorter than the period.
  EXPECT_LE(most_after, 100 + 20 - 1 + kJitterSlack);
  // The connections open at the reload carried the rest: none closed, none opened.
  EXPECT_EQ(first_.closed.CountSince(reloaded), 0u);
  EXPECT_EQ(first_.opened.CountSince(reloaded), 0u);
}

TEST_F(ShapingReload, NewRouteTakesTheQueuedMail) {
  Start("new_route",
        absl::StrCat(kSteadyConnections, "max_message_rate = \"100/s,max_burst=10\"\n"));
  constexpr int kMessages = 600;
  const std::vector<std::string> recipients = Inject(kMessages);
  const absl::Time reloaded = ReloadAfter(
      100, true, absl::StrCat(kSteadyConnections, "max_message_rate = \"100/s,max_burst=10\"\n"),
      "", "[routes]");
  ExpectEachDeliveredOnce(recipients, absl::Seconds(60));
  // The queued mail went to the new route; the old one got nothing a second after the reload
  // (what was in flight at the reload finished there).
  std::cout << "first sink " << first_.messages.size() << ", second sink "
            << second_.messages.size() << "\n";
  EXPECT_GE(second_.messages.size(), static_cast<size_t>(kMessages / 2));
  EXPECT_EQ(first_.messages.CountSince(reloaded + absl::Seconds(1)), 0u);
}

TEST_F(ShapingReload, ASmallerEgressPoolTakesOverFromTheNextTransaction) {
  const std::string shaping = absl::StrCat(kSteadyConnections, "egress_pool = \"pool\"\n",
                                           "max_message_rate = \"100/s,max_burst=10\"\n");
  Start("smaller_pool", shaping,
        "[egress.pool]\nsources = [{ address = \"127.0.0.1\", name = \"one\" }, "
        "{ address = \"127.0.0.2\", name = \"two\" }]\n");
  constexpr int kMessages = 600;
  const std::vector<std::string> recipients = Inject(kMessages);
  const absl::Time reloaded = ReloadAfter(
      100, false, shaping,
      "[egress.pool]\nsources = [{ address = \"127.0.0.2\", name = \"two\" }]\n", "[egress]");
  ExpectEachDeliveredOnce(recipients, absl::Seconds(60));
  // Both sources sent before the reload; a second after it, only the one left.
  EXPECT_EQ(first_.PeersSince(absl::InfinitePast()),
            (std::set<std::string>{"127.0.0.1", "127.0.0.2"}));
  EXPECT_EQ(first_.PeersSince(reloaded + absl::Seconds(1)), std::set<std::string>{"127.0.0.2"});
}

TEST_F(ShapingReload, FileWithErrorsIsRefusedWholeAndTheRunningConfigStays) {
  // 1000/s: far above the embedded default of 100/s, so a refused file that fell back to the
  // defaults would show.
  Start("refused",
        absl::StrCat(kSteadyConnections, "max_message_rate = \"1000/s,max_burst=50\"\n"));
  // Line numbers are those of the written file: find them rather than count them here.
  WriteConfig(false, absl::StrCat(kSteadyConnections,
                                  "max_message_rate = \"fast\"\n"
                                  "[shaping.provider.\"p\"]\nmatch = [\"Bogus=x\"]\n"));
  const std::string written = test_support::ReadFileOrEmpty(config_path_);
  auto line_of = [&](const std::string& text) {
    const size_t at = written.find(text);
    return 1 + std::count(written.begin(), written.begin() + at, '\n');
  };
  auto answer = volleyd_->Reload();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_THAT(*answer, HasSubstr("refused, the running configuration stays"));
  EXPECT_THAT(*answer, HasSubstr(absl::StrCat("volley.toml:", line_of("\"fast\""), ":")));
  EXPECT_THAT(*answer, HasSubstr(absl::StrCat("volley.toml:", line_of("Bogus"), ":")));
  const std::vector<std::string> recipients = Inject(1000);
  ExpectEachDeliveredOnce(recipients, absl::Seconds(60));
  const std::vector<absl::Time> arrivals = first_.messages.Sorted();
  ASSERT_EQ(arrivals.size(), 1000u);
  const double rate = 999 / absl::ToDoubleSeconds(arrivals.back() - arrivals.front());
  std::cout << "after the refused reload: " << rate << " msg/s\n";
  EXPECT_GT(rate, 150.0);
}

}  // namespace
}  // namespace volley
