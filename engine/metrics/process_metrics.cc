#include "engine/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/metrics/registry.h"

namespace volley::metrics {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The entries of /proc/self/fd, less the one that reading the directory opens itself.
absl::StatusOr<int64_t> CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return absl::UnavailableError(absl::StrCat("opendir /proc/self/fd: ", std::strerror(errno)));
  }
  const int own = ::dirfd(dir);
  int64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    int fd;
    if (!absl::SimpleAtoi(entry->d_name, &fd)) continue;  // "." and ".."
    if (fd != own) ++count;
  }
  ::closedir(dir);
  return count;
}

void Header(absl::string_view name, absl::string_view type, absl::string_view help,
            std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

absl::StatusOr<ProcessStats> ParseProcStat(absl::string_view self_stat, absl::string_view proc_stat,
                                           int64_t ticks_per_second, int64_t page_size) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields start
  // after the last ')'. Field numbers below are proc(5)'s, counted from 1 at the pid.
  const size_t paren = self_stat.rfind(')');
  if (paren == absl::string_view::npos || ticks_per_second <= 0) {
    return absl::InvalidArgumentError("/proc/self/stat: no command name");
  }
  const std::vector<absl::string_view> fields =
      absl::StrSplit(self_stat.substr(paren + 1), ' ', absl::SkipWhitespace());
  auto field = [&fields](size_t number, int64_t* value) {
    const size_t i = number - 3;  // fields[0] is field 3, the state
    return i < fields.size() && absl::SimpleAtoi(fields[i], value);
  };
  int64_t utime, stime, starttime, vsize, rss;
  if (!field(14, &utime) || !field(15, &stime) || !field(22, &starttime) || !field(23, &vsize) ||
      !field(24, &rss)) {
    return absl::InvalidArgumentError("/proc/self/stat: too few fields");
  }
  // starttime counts clock ticks since boot; /proc/stat's btime is the boot in epoch seconds.
  int64_t boot_time = -1;
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtoi(line, &boot_time)) break;
  }
  if (boot_time < 0) return absl::InvalidArgumentError("/proc/stat: no btime");
  ProcessStats stats;
  const double ticks = static_cast<double>(ticks_per_second);
  stats.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  stats.start_time_seconds =
      static_cast<double>(boot_time) + static_cast<double>(starttime) / ticks;
  stats.virtual_bytes = vsize;
  stats.resident_bytes = rss * page_size;
  return stats;
}

absl::StatusOr<ProcessStats> ReadProcessStats() {
  absl::StatusOr<std::string> self_stat = ReadWholeFile("/proc/self/stat");
  if (!self_stat.ok()) return self_stat.status();
  absl::StatusOr<std::string> proc_stat = ReadWholeFile("/proc/stat");
  if (!proc_stat.ok()) return proc_stat.status();
  absl::StatusOr<ProcessStats> stats =
      ParseProcStat(*self_stat, *proc_stat, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE));
  if (!stats.ok()) return stats.status();
  absl::StatusOr<int64_t> fds = CountOpenFds();
  if (!fds.ok()) return fds.status();
  stats->open_fds = *fds;
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit: ", std::strerror(errno)));
  }
  stats->max_fds = limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(limit.rlim_cur);
  return stats;
}

void AppendProcessSeries(const ProcessStats& stats, std::string* out) {
  Header("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
         out);
  absl::StrAppend(out, "process_cpu_seconds_total ", absl::StrFormat("%.2f", stats.cpu_seconds),
                  "\n");
  Header("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", out);
  absl::StrAppend(out, "process_resident_memory_bytes ", stats.resident_bytes, "\n");
  Header("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", out);
  absl::StrAppend(out, "process_virtual_memory_bytes ", stats.virtual_bytes, "\n");
  Header("process_open_fds", "gauge", "Number of open file descriptors.", out);
  absl::StrAppend(out, "process_open_fds ", stats.open_fds, "\n");
  if (stats.max_fds >= 0) {  // no limit: no series, as client_golang does
    Header("process_max_fds", "gauge", "Maximum number of open file descriptors.", out);
    absl::StrAppend(out, "process_max_fds ", stats.max_fds, "\n");
  }
  Header("process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.", out);
  // Fixed-point: the shortest form would round the epoch seconds to six digits.
  absl::StrAppend(out, "process_start_time_seconds ",
                  absl::StrFormat("%.2f", stats.start_time_seconds), "\n");
}

void AppendBuildInfo(absl::string_view version, std::string* out) {
  Header("volley_build_info", "gauge", "Always 1; its label is the running Volley's version.", out);
  absl::StrAppend(out, SeriesName("volley_build_info", {{"version", std::string(version)}}),
                  " 1\n");
}

}  // namespace volley::metrics
