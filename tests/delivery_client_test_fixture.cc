#include "tests/delivery_client_test_fixture.h"

#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "engine/smtp/reply.h"

namespace volley {

using test_support::LogEntry;
using test_support::TestTempDir;
using test_support::VolleydProcess;
using test_support::WaitForFinalRecords;

void ClientTest::Start(test_support::SinkOptions sink_options, const std::string& extra,
                       const std::string& route_extra) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = absl::StrCat(TestTempDir(), "/", info->name());
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  sink_options.record = true;
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  sink_ = std::move(*sink);
  log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir_, "/volley.toml");
  std::ofstream config(config_path);
  config << test_support::LoopbackConfig(absl::StrCat(dir_, "/spool"), log_path_, /*threads=*/1)
         << "[delivery]\nretry_initial = \"1h\"\n"
         << "[routes]\n\"client.test\" = { host = \"" << sink_options.addresses[0] << ":"
         << sink_->port() << "\"" << route_extra << " }\n"
         << extra;
  config.close();
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  volleyd_ = std::move(*volleyd);
}

void ClientTest::Inject(const std::vector<std::vector<std::string>>& messages,
                        const std::string& content) {
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

std::vector<LogEntry> ClientTest::WaitFinal(const std::vector<std::string>& recipients,
                                            absl::Duration timeout) {
  auto entries = WaitForFinalRecords(log_path_, recipients, timeout);
  EXPECT_TRUE(entries.ok()) << entries.status() << "\n" << volleyd_->output();
  return entries.ok() ? *entries : std::vector<LogEntry>{};
}

std::vector<LogEntry> ClientTest::WaitFor(const std::string& recipient, const std::string& type,
                                          absl::Duration timeout) {
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

bool HasCommandStarting(const std::vector<test_support::SessionTranscript>& transcripts,
                        absl::string_view prefix) {
  for (const test_support::SessionTranscript& t : transcripts) {
    for (const std::string& c : t.commands) {
      if (absl::StartsWith(c, prefix)) return true;
    }
  }
  return false;
}

}  // namespace volley
