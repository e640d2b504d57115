// The process series that Prometheus client libraries export under the same names (client_golang's
// process collector, prometheus_client's ProcessCollector), so that dashboards made for them work:
//   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//   process_open_fds, process_max_fds, process_start_time_seconds;
// and volley_build_info{version} 1. Read from /proc at scrape time (Linux only, as Volley is).
#ifndef VOLLEY_ENGINE_METRICS_PROCESS_METRICS_H_
#define VOLLEY_ENGINE_METRICS_PROCESS_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user and system time
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
  int64_t open_fds = 0;
  int64_t max_fds = 0;            // the soft RLIMIT_NOFILE
  double start_time_seconds = 0;  // since the Unix epoch
};

// The parts of /proc/self/stat (`self_stat`) and /proc/stat (`proc_stat`, for the boot time)
// that ProcessStats holds: CPU time, start time, resident and virtual size. Pure, for tests.
// `ticks_per_second` is sysconf(_SC_CLK_TCK), `page_size` sysconf(_SC_PAGESIZE).
absl::StatusOr<ProcessStats> ParseProcStat(absl::string_view self_stat, absl::string_view proc_stat,
                                           int64_t ticks_per_second, int64_t page_size);

// This process's statistics now. Thread-safe; reads procfs, which does not block on disk.
absl::StatusOr<ProcessStats> ReadProcessStats();

// The process_* series of `stats` with their HELP and TYPE lines.
void AppendProcessSeries(const ProcessStats& stats, std::string* out);
// volley_build_info{version="..."} 1.
void AppendBuildInfo(absl::string_view version, std::string* out);

}  // namespace volley::metrics

#endif  // VOLLEY_ENGINE_METRICS_PROCESS_METRICS_H_
