// Helpers shared by volley-bench's modes: process statistics from /proc, directory sizes,
// percentiles, message bodies, flag parsing, and the volleyd each of them runs (its config,
// its start and its queue sizes).
#ifndef VOLLEY_BENCH_BENCH_UTIL_H_
#define VOLLEY_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "tests/support/volleyd_process.h"

namespace volley::bench {

// CPU seconds (user + system) used so far by `pid`.
double ProcessCpuSeconds(pid_t pid);
// Resident set of `pid` in MiB: now (VmRSS) and at its peak (VmHWM).
double ProcessRssMb(pid_t pid);
double ProcessPeakRssMb(pid_t pid);
// Bytes of all regular files under `path` (0 when it does not exist).
uint64_t DirectoryBytes(const std::string& path);
// A fresh directory /tmp/volley-bench-XXXXXX (or under $VOLLEY_BENCH_DIR); "" on failure,
// which it reports on stderr.
std::string MakeRunDirectory();
// Removes the run's directory, or with `keep` leaves it and says where it is.
void RemoveOrKeepRunDirectory(const std::string& dir, bool keep);

// Bytes in a MiB, for the sizes the modes report in MiB.
inline constexpr double kBytesPerMb = 1024.0 * 1024.0;

// `sorted` ascending; p in [0, 1].
double Percentile(const std::vector<double>& sorted, double p);

// A plain-text message of about `size` bytes for `recipient`.
std::string MessageContent(size_t index, const std::string& recipient, size_t size);

// Parses `--name=value` into *out when `arg` starts with `prefix` ("--name="). Exits with a
// message on a bad value. Returns whether the flag matched.
template <typename T>
bool NumberFlag(absl::string_view arg, absl::string_view prefix, T* out) {
  if (!absl::ConsumePrefix(&arg, prefix)) return false;
  bool ok = false;
  if constexpr (std::is_floating_point_v<T>) {
    ok = absl::SimpleAtod(arg, out);
  } else {
    ok = absl::SimpleAtoi(arg, out);
  }
  if (!ok) {
    std::fprintf(stderr, "volley-bench: bad value for %s\n", std::string(prefix).c_str());
    std::exit(1);
  }
  return true;
}

// The tables every volleyd of the benchmark starts with: [server] with `threads`, the spool
// in `dir`/spool and the delivery log at `log_path` ("" for none), the SMTP injection and
// HTTP listeners on 127.0.0.1 port 0, and [dns] at an address nobody answers. The mode
// appends its [delivery], [shaping] and [routes] tables.
std::string VolleydConfigHead(const std::string& dir, int threads, const std::string& log_path);
// Writes `text` to `path`, replacing it. The modes notice a config that failed to be written
// when volleyd refuses to start, so this reports nothing itself.
void WriteTextFile(const std::string& path, const std::string& text);

// Starts volleyd on `config_path` with its output in `log_path`; on failure prints
// "volley-bench: <what><error>" and returns null.
std::unique_ptr<test_support::VolleydProcess> StartVolleyd(
    const std::string& config_path, const std::string& log_path, absl::string_view what = "",
    absl::Duration ready_timeout = absl::Seconds(60));

// Recipients volleyd holds, per state, from volley_queue_size in its /metrics; -1 for a state
// missing there, and all -1 when the scrape fails.
struct QueueSizes {
  double scheduled = -1, ready = -1, in_flight = -1;
  double total() const { return scheduled + ready + in_flight; }
  bool complete() const { return scheduled >= 0 && ready >= 0 && in_flight >= 0; }
};
QueueSizes ReadQueueSizes(uint16_t http_port);

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_BENCH_UTIL_H_
