// kill -9 while 3,000 messages are being delivered, restart on the same spool: every message
// that was answered 250 must arrive at least once. A second kill lands in the middle of an
// injection, where only what was answered 250 counts.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
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

using test_support::TestTempDir;
using test_support::VolleydProcess;

constexpr size_t kMessages = 3000;
constexpr int kDomains = 6;

TEST(CrashRecovery, EveryAcknowledgedMessageArrivesAfterKill9) {
  const std::string dir = absl::StrCat(TestTempDir(), "/crash");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // A sink slow enough that delivery is still under way when the kill comes.
  test_support::SinkOptions sink_options;
  sink_options.addresses = {"127.0.0.1"};
  sink_options.record = true;
  sink_options.reply_delay = absl::Milliseconds(5);
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();

  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << test_support::LoopbackConfig(absl::StrCat(dir, "/spool"),
                                           absl::StrCat(dir, "/delivery.jsonl"))
           << "[delivery]\nretry_initial = \"1s\"\nretry_max = \"2s\"\n"
           << "[shaping.default]\nconnection_limit = 2\n"
           << "[routes]\n";
    for (int d = 0; d < kDomains; ++d) {
      config << "\"d" << d << ".crash.test\" = { host = \"127.0.0.1:" << (*sink)->port()
             << "\" }\n";
    }
  }
  const std::string volleyd_log = absl::StrCat(dir, "/volleyd.log");
  auto volleyd = VolleydProcess::Start(config_path, volleyd_log);
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  auto make_message = [](size_t i) {
    bench::InjectMessage m;
    m.mail_from = "crash@volley.test";
    m.recipients = {absl::StrCat("u", i, "@d", i % kDomains, ".crash.test")};
    m.content = absl::StrCat("Subject: crash ", i, "\r\n", test_support::IndexHeader(i), "\r\n",
                             std::string(512 + i % 1024, 'x'), "\r\n");
    return m;
  };
  bench::InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  injector.connections = 4;
  injector.timeout = absl::Seconds(20);
  // All 3,000 are queued before the kill; the sink is slower than the injection.
  auto injected = bench::InjectAll(injector, make_message, kMessages);
  ASSERT_TRUE(injected.ok()) << injected.status();
  ASSERT_EQ(injected->accepted, kMessages);
  const uint64_t at_injection_end = (*sink)->messages();

  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((*sink)->messages() < 900 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  const uint64_t delivered_at_kill = (*sink)->messages();
  (*volleyd)->Kill();
  ASSERT_GE(delivered_at_kill, 900u) << "delivery never got going:\n" << (*volleyd)->output();
  ASSERT_LT(delivered_at_kill, kMessages) << "delivery finished before the kill; slow the sink";
  std::printf("delivered when injection ended=%llu, at kill=%llu\n",
              static_cast<unsigned long long>(at_injection_end),
              static_cast<unsigned long long>(delivered_at_kill));

  std::vector<size_t> acknowledged;
  for (size_t i = 0; i < injected->replies.size(); ++i) {
    if (injected->replies[i].code == 250) acknowledged.push_back(i);
  }

  // Same spool, new process.
  auto restarted = VolleydProcess::Start(config_path, volleyd_log);
  ASSERT_TRUE(restarted.ok()) << restarted.status();

  std::map<int, int> arrivals;
  const absl::Time settle = absl::Now() + absl::Seconds(60);
  size_t missing = acknowledged.size();
  while (absl::Now() < settle) {
    for (const test_support::ReceivedMessage& m : (*sink)->TakeMessages())
      ++arrivals[test_support::IndexOf(m.content)];
    missing = 0;
    for (size_t i : acknowledged) missing += arrivals.count(static_cast<int>(i)) == 0;
    if (missing == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(missing, 0u) << "acknowledged messages lost; " << (*restarted)->output();
  size_t duplicates = 0;
  for (const auto& [index, count] : arrivals) duplicates += count > 1 ? count - 1 : 0;
  std::printf("acknowledged=%zu delivered_at_kill=%llu duplicates=%zu\n", acknowledged.size(),
              static_cast<unsigned long long>(delivered_at_kill), duplicates);
  // Duplicates come only from what was in flight at the kill: transactions on the 12
  // connections and completions the spool writer had not committed yet. Never a re-send of
  // what was long delivered.
  EXPECT_LE(duplicates, 100u);

  // Second round: kill while an injection is under way. Only what was answered 250 counts.
  injector.port = (*restarted)->smtp_port();
  absl::StatusOr<bench::InjectResult> second;
  std::thread inject_thread([&] {
    second = bench::InjectAll(
        injector, [&](size_t i) { return make_message(kMessages + i); }, kMessages);
  });
  const uint64_t before_second = (*sink)->messages();
  while ((*sink)->messages() < before_second + 300 && absl::Now() < settle + absl::Seconds(60)) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  (*restarted)->Kill();
  inject_thread.join();
  ASSERT_TRUE(second.ok()) << second.status();
  std::vector<size_t> second_acked;
  for (size_t i = 0; i < second->replies.size(); ++i) {
    if (second->replies[i].code == 250) second_acked.push_back(kMessages + i);
  }
  ASSERT_GT(second_acked.size(), 0u);
  auto third = VolleydProcess::Start(config_path, volleyd_log);
  ASSERT_TRUE(third.ok()) << third.status();
  const absl::Time settle2 = absl::Now() + absl::Seconds(60);
  while (absl::Now() < settle2) {
    for (const test_support::ReceivedMessage& m : (*sink)->TakeMessages())
      ++arrivals[test_support::IndexOf(m.content)];
    missing = 0;
    for (size_t i : second_acked) missing += arrivals.count(static_cast<int>(i)) == 0;
    if (missing == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(missing, 0u) << "acknowledged messages lost in the second round";
  std::printf("second round: acknowledged=%zu of %zu\n", second_acked.size(), kMessages);

  auto exit = (*third)->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
}

}  // namespace
}  // namespace volley
