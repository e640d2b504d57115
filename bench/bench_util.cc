#include "bench/bench_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace volley::bench {
namespace {

double StatusFieldMb(pid_t pid, absl::string_view field) {
  const std::string status = test_support::ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, field)) {
      double kb = 0;
      absl::SimpleAtod(absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kb);
      return kb / 1024.0;
    }
  }
  return 0;
}

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = test_support::ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<absl::string_view> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  // Fields after the command: state is [0], utime [11], stime [12].
  if (fields.size() < 13) return 0;
  double utime = 0, stime = 0;
  absl::SimpleAtod(fields[11], &utime);
  absl::SimpleAtod(fields[12], &stime);
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ProcessRssMb(pid_t pid) { return StatusFieldMb(pid, "VmRSS:"); }
double ProcessPeakRssMb(pid_t pid) { return StatusFieldMb(pid, "VmHWM:"); }

uint64_t DirectoryBytes(const std::string& path) {
  std::error_code ec;
  uint64_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const uint64_t size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

std::string MakeRunDirectory() {
  const char* base = std::getenv("VOLLEY_BENCH_DIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/volley-bench-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("volley-bench: mkdtemp");
    return "";
  }
  return pattern;
}

void RemoveOrKeepRunDirectory(const std::string& dir, bool keep) {
  if (keep) {
    std::fprintf(stderr, "volley-bench: kept %s\n", dir.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

std::string MessageContent(size_t index, const std::string& recipient, size_t size) {
  std::string content = absl::StrCat("From: Volley Bench <bench@volley.test>\r\nTo: <", recipient,
                                     ">\r\nSubject: bench ", index, "\r\nMessage-ID: <", index,
                                     "@bench.volley.test>\r\nMIME-Version: 1.0\r\n"
                                     "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
  static constexpr absl::string_view kLine =
      "The quick brown fox jumps over the lazy dog, again and again, for the benchmark.\r\n";
  while (content.size() + kLine.size() <= size) content.append(kLine.data(), kLine.size());
  content.append("end\r\n");
  return content;
}

std::string VolleydConfigHead(const std::string& dir, int threads, const std::string& log_path) {
  return absl::StrCat("[server]\nthreads = ", threads, "\nspool = \"", dir, "/spool\"\nlog = \"",
                      log_path, "\"\n",
                      "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\nmax_connections = 10000\n",
                      "[http]\nlisten = \"127.0.0.1:0\"\n",
                      // Nothing here may reach a real resolver; a wrong route fails on a dead
                      // port.
                      "[dns]\nservers = [\"127.0.0.1:9\"]\n");
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::unique_ptr<test_support::VolleydProcess> StartVolleyd(const std::string& config_path,
                                                           const std::string& log_path,
                                                           absl::string_view what,
                                                           absl::Duration ready_timeout) {
  absl::StatusOr<std::unique_ptr<test_support::VolleydProcess>> volleyd =
      test_support::VolleydProcess::Start(config_path, log_path, ready_timeout);
  if (!volleyd.ok()) {
    std::fprintf(stderr, "volley-bench: %s%s\n", std::string(what).c_str(),
                 std::string(volleyd.status().message()).c_str());
    return nullptr;
  }
  return *std::move(volleyd);
}

QueueSizes ReadQueueSizes(uint16_t http_port) {
  QueueSizes sizes;
  absl::StatusOr<test_support::HttpResult> metrics =
      test_support::HttpGet("127.0.0.1", http_port, "/metrics");
  if (!metrics.ok() || metrics->status != 200) return sizes;
  sizes.scheduled =
      test_support::MetricValue(metrics->body, "volley_queue_size{state=\"scheduled\"}");
  sizes.ready = test_support::MetricValue(metrics->body, "volley_queue_size{state=\"ready\"}");
  sizes.in_flight =
      test_support::MetricValue(metrics->body, "volley_queue_size{state=\"in_flight\"}");
  return sizes;
}

}  // namespace volley::bench
