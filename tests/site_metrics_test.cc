// The per-site series, the series by tenant and campaign and the explain read-out, from a real
// volleyd whose sites are held back by their message rates, with [http] site_metrics_limit = 1.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::HttpGet;
using test_support::MetricValue;
using test_support::SmtpSink;
using test_support::TestTempDir;
using test_support::VolleydProcess;

std::unique_ptr<SmtpSink> StartSink() {
  auto sink = SmtpSink::Start(test_support::SinkOptions{});
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? *std::move(sink) : nullptr;
}

std::vector<std::string> Recipients(int n, absl::string_view domain) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(absl::StrCat("u", i, "@", domain));
  return out;
}

TEST(SiteMetrics, BusiestSiteIsNamedWithTheLimitThatHoldsItBack) {
  const std::string dir = absl::StrCat(TestTempDir(), "/site_metrics");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::unique_ptr<SmtpSink> busy = StartSink();
  std::unique_ptr<SmtpSink> quiet = StartSink();
  ASSERT_NE(busy, nullptr);
  ASSERT_NE(quiet, nullptr);
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  std::ofstream(config_path)
      << absl::StrReplaceAll(test_support::LoopbackConfig(absl::StrCat(dir, "/spool"), log_path),
                             {{"[http]\n", "[http]\nsite_metrics_limit = 1\n"}})
      << "[routes]\n\"busy.test\" = { host = \"127.0.0.1:" << busy->port()
      << "\" }\n\"quiet.test\" = { host = \"127.0.0.1:" << quiet->port()
      << "\" }\n[shaping.\"busy.test\"]\n"
         "max_message_rate = \"20/s,max_burst=1\"\n"
         "[shaping.\"quiet.test\"]\nmax_message_rate = \"5/s,max_burst=1\"\n";
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  const std::vector<std::string> busy_recipients = Recipients(100, "busy.test");
  const std::vector<std::string> quiet_recipients = Recipients(10, "quiet.test");
  auto tagged = [](size_t i) {
    return absl::StrCat("X-Volley-Tenant: acme\r\nX-Volley-Campaign: spring\r\nSubject: m", i,
                        "\r\n\r\nbody\r\n");
  };
  auto injected = test_support::InjectEach((*volleyd)->smtp_port(), busy_recipients, 2, tagged);
  ASSERT_TRUE(injected.ok()) << injected.status();
  injected = test_support::InjectEach((*volleyd)->smtp_port(), quiet_recipients, 1);
  ASSERT_TRUE(injected.ok()) << injected.status();

  // While both backlogs drain (5 s and 2 s): the busy site by name, the quiet one as "other".
  const std::string busy_site = absl::StrCat("route:127.0.0.1:", busy->port());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string metrics;
  while (absl::Now() < deadline) {
    auto scraped = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
    ASSERT_TRUE(scraped.ok()) << scraped.status();
    metrics = scraped->body;
    if (MetricValue(metrics, absl::StrCat("volley_site_ready{site=\"", busy_site, "\"}")) > 10 &&
        MetricValue(metrics, "volley_site_ready{site=\"other\"}") > 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GT(MetricValue(metrics, absl::StrCat("volley_site_ready{site=\"", busy_site, "\"}")), 10)
      << metrics;
  EXPECT_GT(MetricValue(metrics, "volley_site_ready{site=\"other\"}"), 0) << metrics;
  EXPECT_EQ(metrics.find(absl::StrCat("route:127.0.0.1:", quiet->port())), std::string::npos);
  EXPECT_EQ(
      MetricValue(metrics, absl::StrCat("volley_site_connections_open{site=\"", busy_site, "\"}")),
      1);
  EXPECT_EQ(MetricValue(metrics, absl::StrCat("volley_site_held_back{site=\"", busy_site,
                                              "\",limit=\"max_message_rate\"}")),
            1)
      << metrics;
  EXPECT_GT(MetricValue(metrics,
                        "volley_tenant_queue_size{tenant=\"acme\",campaign=\"spring\","
                        "state=\"ready\"}"),
            10)
      << metrics;

  // The explain read-out of the busy site, while its backlog drains: the limit that holds it
  // back, the limits in force and the tables they came from.
  auto explained = HttpGet("127.0.0.1", (*volleyd)->http_port(),
                           absl::StrCat("/api/admin/explain/v1?site=", busy_site));
  ASSERT_TRUE(explained.ok()) << explained.status();
  EXPECT_EQ(explained->status, 200) << explained->body;
  std::cout << "explain: " << explained->body;
  for (const std::string& expected :
       {absl::StrCat("\"site\":\"", busy_site, "\""), std::string("\"key\":\"domain:busy.test\""),
        std::string("\"held_back\":{\"limit\":\"max_message_rate\",\"until\":\"20"),
        std::string("\"max_message_rate\":\"20/s,max_burst=1\""),
        std::string("\"rules\":[\"[shaping.default]\",\"[shaping.\\\"busy.test\\\"] (line "),
        std::string("\"throttled\":{\"max_message_rate\":")}) {
    EXPECT_NE(explained->body.find(expected), std::string::npos)
        << expected << " not in " << explained->body;
  }
  auto unknown =
      HttpGet("127.0.0.1", (*volleyd)->http_port(), "/api/admin/explain/v1?site=nowhere.test");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(unknown->status, 404) << unknown->body;

  std::vector<std::string> all = busy_recipients;
  all.insert(all.end(), quiet_recipients.begin(), quiet_recipients.end());
  auto entries = test_support::WaitForFinalRecords(log_path, all, absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto scraped = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  // Evenly spaced at 20/s, every message after the first waited for the rate.
  const double throttled = MetricValue(
      scraped->body,
      absl::StrCat("volley_throttled_total{site=\"", busy_site, "\",limit=\"max_message_rate\"}"));
  EXPECT_GE(throttled, 90);
  EXPECT_LE(throttled, 100);
  const double other = MetricValue(
      scraped->body, "volley_throttled_total{site=\"other\",limit=\"max_message_rate\"}");
  EXPECT_GE(other, 8);
  EXPECT_LE(other, 10);
  // Nothing is held back once the queues are empty.
  EXPECT_EQ(scraped->body.find("volley_site_held_back{site=\"route"), std::string::npos)
      << scraped->body;
}

}  // namespace
}  // namespace volley
