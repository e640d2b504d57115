#include "engine/metrics/process_metrics.h"

#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace volley::metrics {
namespace {

// A command name with a space and a parenthesis, as proc(5) allows; utime 250, stime 50,
// starttime 1000 ticks after boot, vsize 3133440, rss 412 pages.
constexpr absl::string_view kSelfStat =
    "26523 (volley d) x) R 26478 26478 23183 0 -1 4194304 97 0 0 0 250 50 0 0 20 0 1 0 1000 "
    "3133440 412 18446744073709551615 94719272587264 0\n";
constexpr absl::string_view kProcStat =
    "cpu  1 2 3 4\nintr 5\nctxt 6\nbtime 1700000000\nprocesses 7\n";

TEST(ProcessMetrics, ParsesCpuStartAndMemoryFromProcStat) {
  absl::StatusOr<ProcessStats> stats = ParseProcStat(kSelfStat, kProcStat, 100, 4096);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1700000010.0);
  EXPECT_EQ(stats->virtual_bytes, 3133440);
  EXPECT_EQ(stats->resident_bytes, 412 * 4096);
}

TEST(ProcessMetrics, RefusesWhatIsNotProcStat) {
  EXPECT_FALSE(ParseProcStat("26523 (volleyd) R 1 2", kProcStat, 100, 4096).ok());
  EXPECT_FALSE(ParseProcStat("no parenthesis", kProcStat, 100, 4096).ok());
  EXPECT_FALSE(ParseProcStat(kSelfStat, "cpu 1 2 3\n", 100, 4096).ok());
}

TEST(ProcessMetrics, ReadsThisProcess) {
  absl::StatusOr<ProcessStats> stats = ReadProcessStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->resident_bytes, 1 << 20);
  EXPECT_GE(stats->virtual_bytes, stats->resident_bytes);
  EXPECT_GE(stats->open_fds, 3);  // stdin, stdout, stderr
  const int fd = ::dup(1);
  ASSERT_GE(fd, 0);
  absl::StatusOr<ProcessStats> more = ReadProcessStats();
  ::close(fd);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->open_fds, stats->open_fds + 1);
  EXPECT_GT(stats->max_fds, stats->open_fds);
  const double now = absl::ToUnixMicros(absl::Now()) / 1e6;
  EXPECT_LE(stats->start_time_seconds, now + 1);
  EXPECT_GT(stats->start_time_seconds, now - 3600);
}

TEST(ProcessMetrics, RendersThePrometheusNames) {
  ProcessStats stats;
  stats.cpu_seconds = 1.25;
  stats.resident_bytes = 2048;
  stats.virtual_bytes = 4096;
  stats.open_fds = 9;
  stats.max_fds = 1024;
  stats.start_time_seconds = 1700000010.5;
  std::string out;
  AppendProcessSeries(stats, &out);
  AppendBuildInfo("1.2.3", &out);
  for (absl::string_view line :
       {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.25\n",
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 2048\n",
        "process_virtual_memory_bytes 4096\n",
        "# TYPE process_open_fds gauge\nprocess_open_fds 9\n", "process_max_fds 1024\n",
        "process_start_time_seconds 1700000010.50\n",
        "# TYPE volley_build_info gauge\nvolley_build_info{version=\"1.2.3\"} 1\n"}) {
    EXPECT_TRUE(absl::StrContains(out, line)) << line << " not in\n" << out;
  }
  EXPECT_TRUE(absl::StrContains(out, "# HELP process_open_fds ")) << out;
}

}  // namespace
}  // namespace volley::metrics
