// Domains hosted on the same MX hosts form one site: one ready queue, one connection pool, one
// set of limits, whichever shards own the domains.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/unbound_server.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::LogEntry;
using test_support::TestTempDir;
using test_support::VolleydProcess;

TEST(Sites, TwoHundredDomainsOnOneMxShareItsConnectionLimit) {
  const std::string dir = absl::StrCat(TestTempDir(), "/sites");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  test_support::SinkOptions sink_options;
  sink_options.addresses = {"127.0.0.7"};
  // Slow enough replies that connections pile up if the limit were per domain.
  sink_options.reply_delay = absl::Milliseconds(2);
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();

  constexpr int kDomains = 200;
  constexpr int kPerDomain = 5;
  std::vector<test_support::DnsRecord> records = {{"mx.shared.test", "A", "127.0.0.7"}};
  for (int d = 0; d < kDomains; ++d) {
    records.push_back({absl::StrCat("d", d, ".sites.test"), "MX", "10 mx.shared.test."});
  }
  auto unbound = test_support::UnboundServer::Start(absl::StrCat(dir, "/unbound"), records);
  ASSERT_TRUE(unbound.ok()) << unbound.status();

  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << "[server]\nthreads = 2\nspool = \"" << dir << "/spool\"\nlog = \"" << log_path
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"" << (*unbound)->address() << "\"]\n"
           << "[delivery]\nport = " << (*sink)->port() << "\n"
           << "[shaping.default]\nconnection_limit = 5\nmax_deliveries_per_connection = 20\n";
  }
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  std::vector<std::string> recipients;
  for (int i = 0; i < kDomains * kPerDomain; ++i) {
    recipients.push_back(absl::StrCat("u", i, "@d", i % kDomains, ".sites.test"));
  }
  auto accepted = test_support::InjectEach((*volleyd)->smtp_port(), recipients, 8);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_EQ(*accepted, recipients.size());

  auto entries = test_support::WaitForFinalRecords(log_path, recipients, absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  int deliveries = 0;
  for (const LogEntry& e : *entries) {
    if (e.type != "Delivery") continue;
    ++deliveries;
    EXPECT_EQ(e.site, "mx.shared.test");
  }
  EXPECT_EQ(deliveries, kDomains * kPerDomain);
  const test_support::SmtpSink::ConnectionStats stats = (*sink)->connection_stats("127.0.0.7");
  EXPECT_LE(stats.max_open, 5) << "the limit is the site's, not each domain's";
  EXPECT_GE(stats.max_open, 2);
  // 1,000 messages at 20 per connection.
  EXPECT_GE(stats.accepted, 50u);
}

}  // namespace
}  // namespace volley
