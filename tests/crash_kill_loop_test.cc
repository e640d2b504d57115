// kill -9 at random moments, again and again, while 4,000 messages are delivered to a healthy,
// a slow and a tempfailing site, restarting on the same spool each time. Every message answered
// 250 must arrive at least once; the duplicates each kill causes are reported and must not
// exceed what was in flight at that kill. At the end the spool is empty.
//
// The seed of the kill times is printed; VOLLEY_CRASH_SEED=<seed> repeats a run.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "tests/support/indexed_message.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::HttpGet;
using test_support::MetricValue;
using test_support::RunVolleyd;
using test_support::TestTempDir;
using test_support::VolleydProcess;

constexpr size_t kMessages = 4000;
constexpr int kKills = 6;
constexpr int kConnectionLimit = 3;  // per site; three sites

// Which site message `i` goes to: 0 healthy (half), 1 slow, 2 tempfailing (first try 451).
int SiteOf(size_t i) { return i % 4 < 2 ? 0 : static_cast<int>(i % 4) - 1; }

uint32_t Seed() {
  if (const char* seed = std::getenv("VOLLEY_CRASH_SEED")) {
    uint32_t value = 0;
    if (absl::SimpleAtoi(seed, &value)) return value;
  }
  return static_cast<uint32_t>(absl::ToUnixNanos(absl::Now()));
}

TEST(CrashKillLoop, EveryAcknowledgedMessageArrivesThroughRepeatedKill9) {
  const uint32_t seed = Seed();
  std::printf("VOLLEY_CRASH_SEED=%u\n", seed);
  std::mt19937 random(seed);

  const std::string dir = absl::StrCat(TestTempDir(), "/kill-loop");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::vector<std::unique_ptr<test_support::SmtpSink>> sinks;
  for (int site = 0; site < 3; ++site) {
    test_support::SinkOptions options;
    options.record = true;
    if (site == 1) options.reply_delay = absl::Milliseconds(15);
    if (site == 2) options.reply_delay = absl::Milliseconds(2);
    auto sink = test_support::SmtpSink::Start(options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sinks.push_back(std::move(*sink));
  }
  static constexpr const char* kSiteDomains[] = {"healthy.crash.test", "slow.crash.test",
                                                 "tempfail.crash.test"};
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << test_support::LoopbackConfig(absl::StrCat(dir, "/spool"),
                                           absl::StrCat(dir, "/delivery.jsonl"))
           << "[delivery]\nretry_initial = \"1s\"\nretry_max = \"2s\"\n"
           << "[shaping.default]\nconnection_limit = " << kConnectionLimit << "\n"
           << "[routes]\n";
    for (int site = 0; site < 3; ++site) {
      config << "\"" << kSiteDomains[site] << "\" = { host = \"127.0.0.1:" << sinks[site]->port()
             << "\" }\n";
    }
  }
  const std::string volleyd_log = absl::StrCat(dir, "/volleyd.log");
  auto volleyd = VolleydProcess::Start(config_path, volleyd_log);
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  bench::InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  injector.connections = 4;
  injector.timeout = absl::Seconds(30);
  auto injected = bench::InjectAll(
      injector,
      [](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "kill@volley.test";
        const char* local = SiteOf(i) == 2 ? "tempfailonce-" : "u";
        m.recipients = {absl::StrCat(local, i, "@", kSiteDomains[SiteOf(i)])};
        m.content = absl::StrCat("Subject: kill loop ", i, "\r\n", test_support::IndexHeader(i),
                                 "\r\n", std::string(256 + i % 2048, 'k'), "\r\n");
        return m;
      },
      kMessages);
  ASSERT_TRUE(injected.ok()) << injected.status();
  ASSERT_EQ(injected->accepted, kMessages);

  // Arrivals per message, and the epoch (time between two kills) of each.
  std::map<int, std::vector<int>> arrival_epochs;
  auto drain = [&](int epoch) {
    for (auto& sink : sinks) {
      for (const test_support::ReceivedMessage& m : sink->TakeMessages()) {
        arrival_epochs[test_support::IndexOf(m.content)].push_back(epoch);
      }
    }
  };

  std::vector<double> in_flight_at_kill;
  std::uniform_int_distribution<int> kill_after_ms(100, 900);
  for (int kill = 0; kill < kKills; ++kill) {
    absl::SleepFor(absl::Milliseconds(kill_after_ms(random)));
    // What is in flight just before the kill bounds what it may duplicate.
    auto metrics = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    const double in_flight = MetricValue(metrics->body, "volley_queue_size{state=\"in_flight\"}");
    (*volleyd)->Kill();
    drain(kill);
    in_flight_at_kill.push_back(in_flight);
    size_t delivered = 0;
    for (const auto& [index, epochs] : arrival_epochs) delivered += index >= 0;
    std::printf("kill %d: in_flight=%.0f distinct_delivered=%zu\n", kill + 1, in_flight, delivered);
    ASSERT_LT(delivered, kMessages)
        << "delivery finished before kill " << kill + 1 << "; the sites are too fast for this test";
    volleyd = VolleydProcess::Start(config_path, volleyd_log);
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  }

  // Let the last process finish everything.
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  size_t missing = kMessages;
  while (absl::Now() < deadline) {
    drain(kKills);
    missing = 0;
    for (size_t i = 0; i < kMessages; ++i)
      missing += arrival_epochs.count(static_cast<int>(i)) == 0;
    if (missing == 0) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(missing, 0u) << "acknowledged messages lost; see " << volleyd_log;

  // A duplicate belongs to the kill that ended the epoch of the arrival before it.
  std::vector<int> duplicates(kKills + 1, 0);
  int total_duplicates = 0;
  for (const auto& [index, epochs] : arrival_epochs) {
    ASSERT_GE(index, 0) << "a message without its X-Index arrived";
    for (size_t a = 1; a < epochs.size(); ++a) {
      ++duplicates[epochs[a - 1]];
      ++total_duplicates;
    }
  }
  for (int kill = 0; kill < kKills; ++kill) {
    std::printf("kill %d: duplicates=%d in_flight=%.0f\n", kill + 1, duplicates[kill],
                in_flight_at_kill[kill]);
    // In flight: recipients in a transaction when the metrics were read, plus the deliveries
    // that may complete in the moment between that read and the kill (one per connection).
    EXPECT_LE(duplicates[kill], in_flight_at_kill[kill] + 3 * kConnectionLimit)
        << "kill " << kill + 1 << " caused more duplicates than it had in flight";
  }
  EXPECT_EQ(duplicates[kKills], 0) << "duplicates without a kill";
  std::printf("messages=%zu kills=%d duplicates=%d\n", kMessages, kKills, total_duplicates);

  // Nothing is left behind: the queue empties and the spool holds nothing.
  const absl::Time empty_deadline = absl::Now() + absl::Seconds(30);
  double queued = -1;
  while (absl::Now() < empty_deadline) {
    auto metrics = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
    ASSERT_TRUE(metrics.ok());
    queued = MetricValue(metrics->body, "volley_queue_size{state=\"scheduled\"}") +
             MetricValue(metrics->body, "volley_queue_size{state=\"ready\"}") +
             MetricValue(metrics->body, "volley_queue_size{state=\"in_flight\"}");
    if (queued == 0) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(queued, 0);
  auto exit = (*volleyd)->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  auto check = RunVolleyd({absl::StrCat("--config=", config_path), "--spool-check"});
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->exit_code, 0) << check->output;
  EXPECT_NE(check->output.find("recipients:            0\n"), std::string::npos) << check->output;
}

}  // namespace
}  // namespace volley
