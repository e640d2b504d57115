// The delivery client against the project's scriptable sink: each test asks the sink for one
// behaviour (by option or by recipient local part), injects through volleyd, and checks both
// the SMTP conversation the sink saw and the delivery-log records volleyd wrote.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "bench/smtp_sink.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::EntriesFor;
using test_support::LogEntry;
using test_support::TestTempDir;
using test_support::TypesFor;
using test_support::VolleydProcess;
using test_support::WaitForFinalRecords;

// A sink, a volleyd routing "client.test" to it, and helpers.
class ClientTest : public ::testing::Test {
 protected:
  // `extra` is appended to the config (e.g. "[shaping.default]\ntls = \"required\"\n").
  // `route_extra` goes inside the route's inline table (e.g. ", tls = \"implicit\"").
  void Start(bench::SinkOptions sink_options, const std::string& extra = "",
             const std::string& route_extra = "") {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = absl::StrCat(TestTempDir(), "/", info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sink_options.record = true;
    auto sink = bench::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
    log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
    const std::string config_path = absl::StrCat(dir_, "/volley.toml");
    std::ofstream config(config_path);
    config << "[server]\nthreads = 1\nspool = \"" << dir_ << "/spool\"\nlog = \"" << log_path_
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"127.0.0.1:9\"]\n"
           << "[delivery]\nretry_initial = \"1h\"\n"
           << "[routes]\n\"client.test\" = { host = \"" << sink_options.addresses[0] << ":"
           << sink_->port() << "\"" << route_extra << " }\n"
           << extra;
    config.close();
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = std::move(*volleyd);
  }

  // Injects one message per recipient list; returns once volleyd has answered them all.
  void Inject(const std::vector<std::vector<std::string>>& messages,
              const std::string& content = "Subject: test\r\n\r\nbody\r\n") {
    bench::InjectorOptions injector;
    injector.port = volleyd_->smtp_port();
    injector.connections = 1;
    auto result = bench::InjectAll(
        injector,
        [&](size_t i) {
          bench::InjectMessage m;
          m.mail_from = "sender@volley.test";
          m.recipients = messages[i];
          m.content = content;
          return m;
        },
        messages.size());
    ASSERT_TRUE(result.ok()) << result.status();
    for (const smtp::Reply& reply : result->replies) ASSERT_EQ(reply.code, 250) << reply.Text();
  }

  std::vector<LogEntry> WaitFinal(const std::vector<std::string>& recipients,
                                  absl::Duration timeout = absl::Seconds(20)) {
    auto entries = WaitForFinalRecords(log_path_, recipients, timeout);
    EXPECT_TRUE(entries.ok()) << entries.status() << "\n" << volleyd_->output();
    return entries.ok() ? *entries : std::vector<LogEntry>{};
  }

  // Records of `type` for a recipient, waiting up to `timeout` for at least one.
  std::vector<LogEntry> WaitFor(const std::string& recipient, const std::string& type,
                                absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      std::vector<LogEntry> found;
      for (const LogEntry& e : test_support::ReadDeliveryLog(log_path_)) {
        if (e.recipient == recipient && e.type == type) found.push_back(e);
      }
      if (!found.empty() || absl::Now() >= deadline) return found;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  std::string dir_;
  std::string log_path_;
  std::unique_ptr<bench::SmtpSink> sink_;
  std::unique_ptr<VolleydProcess> volleyd_;
};

TEST_F(ClientTest, EgressSourcesAreUsedInTurnAndLogged) {
  bench::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  Start(sink,
        "[egress.pool]\nsources = [{ address = \"127.0.0.2\", ehlo = \"a.egress.test\", "
        "name = \"a\" }, { address = \"127.0.0.3\", ehlo = \"b.egress.test\", name = \"b\" }]\n"
        "[shaping.default]\negress_pool = \"pool\"\nmax_deliveries_per_connection = 1\n"
        "connection_limit = 1\n");
  std::vector<std::vector<std::string>> messages;
  std::vector<std::string> recipients;
  for (int i = 0; i < 6; ++i) {
    recipients.push_back(absl::StrCat("e", i, "@client.test"));
    messages.push_back({recipients.back()});
  }
  Inject(messages);
  std::vector<LogEntry> entries = WaitFinal(recipients);
  std::map<std::string, int> by_source;
  for (const LogEntry& e : entries) {
    if (e.type != "Delivery") continue;
    EXPECT_EQ(e.egress_pool, "pool");
    ++by_source[e.egress_source];
  }
  // One message per connection, sources in turn: three each.
  EXPECT_EQ(by_source["a"], 3);
  EXPECT_EQ(by_source["b"], 3);
  std::map<std::string, int> by_peer;
  for (const bench::ReceivedMessage& m : sink_->TakeMessages()) ++by_peer[m.peer_address];
  EXPECT_EQ(by_peer["127.0.0.2"], 3);
  EXPECT_EQ(by_peer["127.0.0.3"], 3);
}

TEST_F(ClientTest, ASlowServerTimesOutAsATransientFailure) {
  bench::SinkOptions sink;
  sink.addresses = {"127.0.0.1"};
  sink.reply_delay = absl::Milliseconds(1500);
  Start(sink, "[shaping.default]\nbanner_timeout = \"500ms\"\n");
  Inject({{"slow@client.test"}});
  std::vector<LogEntry> failures = WaitFor("slow@client.test", "TransientFailure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].code, 451);
  EXPECT_TRUE(absl::StrContains(failures[0].content, "timed out waiting for the greeting"))
      << failures[0].content;
  EXPECT_EQ(sink_->messages(), 0u);
}

}  // namespace
}  // namespace volley
