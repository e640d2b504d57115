// The per-site series, the series by tenant and campaign and the explain read-out, from a real
// volleyd whose sites are held back by their message rates, with [http] site_metrics_limit = 1.
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

// Two routed sites, each behind its own sink: busy.test at 20/s (100 messages of tenant acme,
// campaign spring) and quiet.test at 5/s (10 messages without tags).
class SiteMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = test_support::FreshTestDir("site_metrics");
    busy_ = StartSink();
    quiet_ = StartSink();
    ASSERT_NE(busy_, nullptr);
    ASSERT_NE(quiet_, nullptr);
    busy_site_ = absl::StrCat("route:127.0.0.1:", busy_->port());
    log_path_ = absl::StrCat(dir, "/delivery.jsonl");
    const std::string config_path = absl::StrCat(dir, "/volley.toml");
    std::ofstream(config_path)
        << absl::StrReplaceAll(test_support::LoopbackConfig(absl::StrCat(dir, "/spool"), log_path_),
                               {{"[http]\n", "[http]\nsite_metrics_limit = 1\n"}})
        << test_support::RoutesToSinks(
               {{"busy.test", busy_->port()}, {"quiet.test", quiet_->port()}})
        << "[shaping.\"busy.test\"]\nmax_message_rate = \"20/s,max_burst=1\"\n"
           "[shaping.\"quiet.test\"]\nmax_message_rate = \"5/s,max_burst=1\"\n";
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = *std::move(volleyd);
  }

  void InjectBoth() {
    auto tagged = [](size_t i) {
      return absl::StrCat("X-Volley-Tenant: acme\r\nX-Volley-Campaign: spring\r\nSubject: m", i,
                          "\r\n\r\nbody\r\n");
    };
    auto injected = test_support::InjectEach(volleyd_->smtp_port(), busy_recipients_, 2, tagged);
    ASSERT_TRUE(injected.ok()) << injected.status();
    injected = test_support::InjectEach(volleyd_->smtp_port(), quiet_recipients_, 1);
    ASSERT_TRUE(injected.ok()) << injected.status();
  }

  std::string Get(const std::string& path, int expected_status = 200) {
    auto got = HttpGet("127.0.0.1", volleyd_->http_port(), path);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return "";
    EXPECT_EQ(got->status, expected_status) << path << ": " << got->body;
    return got->body;
  }

  double Metric(const std::string& metrics, const std::string& name, const std::string& labels) {
    return MetricValue(metrics, absl::StrCat(name, "{", labels, "}"));
  }

  // Scrapes until both sites have a backlog (they drain in 5 s and 2 s).
  std::string ScrapeWhileBothWait() {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::string metrics;
    while (absl::Now() < deadline) {
      metrics = Get("/metrics");
      if (Metric(metrics, "volley_site_ready", Site()) > 10 &&
          Metric(metrics, "volley_site_ready", "site=\"other\"") > 0) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return metrics;
  }

  std::string Site() const { return absl::StrCat("site=\"", busy_site_, "\""); }

  std::unique_ptr<SmtpSink> busy_;
  std::unique_ptr<SmtpSink> quiet_;
  std::string busy_site_;
  std::string log_path_;
  std::unique_ptr<VolleydProcess> volleyd_;
  const std::vector<std::string> busy_recipients_ = Recipients(100, "busy.test");
  const std::vector<std::string> quiet_recipients_ = Recipients(10, "quiet.test");
};

TEST_F(SiteMetrics, BusiestSiteIsNamedWithTheLimitThatHoldsItBack) {
  InjectBoth();
  // While both backlogs drain: the busy site by name, the quiet one as "other".
  const std::string metrics = ScrapeWhileBothWait();
  EXPECT_GT(Metric(metrics, "volley_site_ready", Site()), 10) << metrics;
  EXPECT_GT(Metric(metrics, "volley_site_ready", "site=\"other\""), 0) << metrics;
  EXPECT_EQ(metrics.find(absl::StrCat("route:127.0.0.1:", quiet_->port())), std::string::npos);
  EXPECT_EQ(Metric(metrics, "volley_site_connections_open", Site()), 1);
  EXPECT_EQ(Metric(metrics, "volley_site_held_back", Site() + ",limit=\"max_message_rate\""), 1)
      << metrics;
  EXPECT_GT(Metric(metrics, "volley_tenant_queue_size",
                   "tenant=\"acme\",campaign=\"spring\",state=\"ready\""),
            10)
      << metrics;

  // The explain read-out of the busy site: the limit that holds it back, the limits in force
  // and the tables they came from.
  const std::string explained = Get(absl::StrCat("/api/admin/explain/v1?site=", busy_site_));
  std::cout << "explain: " << explained;
  for (const std::string& expected :
       {absl::StrCat("\"site\":\"", busy_site_, "\""), std::string("\"key\":\"domain:busy.test\""),
        std::string("\"held_back\":{\"limit\":\"max_message_rate\",\"until\":\"20"),
        std::string("\"max_message_rate\":\"20/s,max_burst=1\""),
        std::string("\"rules\":[\"[shaping.default]\",\"[shaping.\\\"busy.test\\\"] (line "),
        std::string("\"throttled\":{\"max_message_rate\":")}) {
    EXPECT_NE(explained.find(expected), std::string::npos) << expected << " not in " << explained;
  }
  Get("/api/admin/explain/v1?site=nowhere.test", 404);
  Get("/api/admin/explain/v1", 400);
}

TEST_F(SiteMetrics, DelaysAreCountedOncePerMessageByTheirLimit) {
  InjectBoth();
  std::vector<std::string> all = busy_recipients_;
  all.insert(all.end(), quiet_recipients_.begin(), quiet_recipients_.end());
  auto entries = test_support::WaitForFinalRecords(log_path_, all, absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  const std::string metrics = Get("/metrics");
  // Evenly spaced at 20/s, every message after the first waited for the rate; so did 9 of the
  // quiet site's 10, which is not named (site_metrics_limit = 1).
  const double throttled =
      Metric(metrics, "volley_throttled_total", Site() + ",limit=\"max_message_rate\"");
  EXPECT_GE(throttled, 90);
  EXPECT_LE(throttled, 100);
  const double other =
      Metric(metrics, "volley_throttled_total", "site=\"other\",limit=\"max_message_rate\"");
  EXPECT_GE(other, 8);
  EXPECT_LE(other, 10);
  // Nothing is held back once the queues are empty.
  EXPECT_EQ(metrics.find("volley_site_held_back{site=\"route"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace volley
