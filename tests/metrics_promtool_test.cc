// The /metrics exposition of a loaded volleyd (some mail delivered to the sink, some deferred by
// it) carries the process series under the names Prometheus client libraries use, the build's
// version and every shard's loop lag, and `promtool check metrics` (Debian's prometheus
// package) finds nothing to complain about in any family.
#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/base/version.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/relay_world.h"
#include "tests/support/shell.h"

namespace volley {
namespace {

using test_support::MetricValue;

constexpr int kDelivered = 20;
constexpr int kDeferred = 5;

class MetricsPromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::RelayOptions options;
    options.name = "metrics_promtool";
    options.domains = {"prom.test"};
    // A rate that holds the site back for a while, so that a scrape during the load has the
    // per-site, per-limit and per-tenant series too.
    options.config = "[shaping.\"prom.test\"]\nmax_message_rate = \"50/s,max_burst=1\"\n";
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  // Delivered recipients get their Delivery; the sink answers 451 to the tempfail ones, which
  // stay queued for their next attempt. Tagged by tenant and campaign.
  void Inject() {
    for (int i = 0; i < kDelivered; ++i) delivered_.push_back(absl::StrCat("u", i, "@prom.test"));
    for (int i = 0; i < kDeferred; ++i) {
      deferred_.push_back(absl::StrCat("tempfail-", i, "@prom.test"));
    }
    std::vector<std::string> recipients = delivered_;
    recipients.insert(recipients.end(), deferred_.begin(), deferred_.end());
    auto tagged = [](size_t i) {
      return absl::StrCat("X-Volley-Tenant: acme\r\nX-Volley-Campaign: c", i % 2, "\r\nSubject: m",
                          i, "\r\n\r\nbody\r\n");
    };
    auto injected = test_support::InjectEach(world_.volleyd().smtp_port(), recipients, 2, tagged);
    ASSERT_TRUE(injected.ok()) << injected.status();
    ASSERT_EQ(*injected, recipients.size());
  }

  void WaitForOutcomes() {
    auto entries =
        test_support::WaitForFinalRecords(world_.log_path(), delivered_, absl::Seconds(30));
    ASSERT_TRUE(entries.ok()) << entries.status();
    ASSERT_TRUE(WaitForDeferred(absl::Seconds(30)));
  }

  ABSL_MUST_USE_RESULT ::testing::AssertionResult WaitForDeferred(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int missing = 0;
    while (true) {
      const std::vector<test_support::LogEntry> log =
          test_support::ReadDeliveryLog(world_.log_path());
      missing = 0;
      for (const std::string& r : deferred_) {
        const std::vector<std::string> types = test_support::TypesFor(log, r);
        missing += std::find(types.begin(), types.end(), "TransientFailure") == types.end();
      }
      if (missing == 0) return ::testing::AssertionSuccess();
      if (absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure() << missing << " deferred recipients have no record";
  }

  std::string Scrape() {
    auto got = world_.Api("GET", "/metrics");
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return "";
    EXPECT_EQ(got->status, 200) << got->body;
    return got->body;
  }

  // promtool's exit status is 0 for a clean exposition; it prints each problem otherwise.
  ABSL_MUST_USE_RESULT ::testing::AssertionResult PromtoolAccepts(const std::string& metrics) {
    const std::string path = absl::StrCat(test_support::TestTempDir(), "/metrics.txt");
    std::ofstream(path, std::ios::binary) << metrics;
    const auto [code, output] =
        test_support::RunShell(absl::StrCat("promtool check metrics < '", path, "' 2>&1"));
    if (code == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "promtool check metrics (Debian's prometheus package, tools/setup.sh) exited with "
           << code << ":\n"
           << output << "\non:\n"
           << metrics;
  }

  test_support::RelayWorld world_;
  std::vector<std::string> delivered_;
  std::vector<std::string> deferred_;
};

TEST_F(MetricsPromtoolTest, ALoadedInstanceExportsProcessSeriesAndPassesPromtool) {
  Inject();
  // While the site's rate holds the messages back.
  const std::string during = Scrape();
  EXPECT_TRUE(absl::StrContains(during, "volley_throttled_total{site=\"")) << during;
  EXPECT_TRUE(PromtoolAccepts(during));

  WaitForOutcomes();
  // Every shard's probe (every 250 ms) has fired a few times.
  absl::SleepFor(absl::Milliseconds(800));
  const std::string metrics = Scrape();
  ASSERT_FALSE(metrics.empty());
  EXPECT_GE(MetricValue(metrics, "volley_deliveries_total{outcome=\"delivered\"}"), kDelivered);
  EXPECT_GE(MetricValue(metrics, "volley_deliveries_total{outcome=\"transient_failure\"}"),
            kDeferred);

  EXPECT_GT(MetricValue(metrics, "process_cpu_seconds_total"), 0) << metrics;
  EXPECT_GT(MetricValue(metrics, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(MetricValue(metrics, "process_open_fds"), 3);
  EXPECT_GT(MetricValue(metrics, "process_max_fds"), MetricValue(metrics, "process_open_fds"));
  const double now = absl::ToUnixMicros(absl::Now()) / 1e6;
  const double start = MetricValue(metrics, "process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);
  EXPECT_EQ(
      MetricValue(metrics, absl::StrCat("volley_build_info{version=\"", kVolleyVersion, "\"}")), 1)
      << metrics;
  for (int shard = 0; shard < 2; ++shard) {  // LoopbackConfig's two threads
    const std::string labels = absl::StrCat("{shard=\"", shard, "\"}");
    const double lag = MetricValue(metrics, "volley_loop_lag_seconds" + labels);
    EXPECT_GE(lag, 0) << metrics;  // -1: absent
    EXPECT_LT(lag, 1);
    const double max = MetricValue(metrics, "volley_loop_lag_max_seconds" + labels);
    EXPECT_GE(max, 0) << metrics;
    EXPECT_LT(max, 1);
  }
  for (absl::string_view type_line :
       {"# TYPE process_cpu_seconds_total counter\n", "# TYPE process_open_fds gauge\n",
        "# TYPE volley_build_info gauge\n", "# TYPE volley_loop_lag_seconds gauge\n"}) {
    EXPECT_TRUE(absl::StrContains(metrics, type_line)) << type_line;
  }

  EXPECT_TRUE(PromtoolAccepts(metrics));
}

}  // namespace
}  // namespace volley
