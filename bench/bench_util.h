// Helpers shared by volley-bench's modes: process statistics from /proc, directory sizes,
// percentiles, message bodies and flag parsing.
#ifndef VOLLEY_BENCH_BENCH_UTIL_H_
#define VOLLEY_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace volley::bench {

// CPU seconds (user + system) used so far by `pid`.
double ProcessCpuSeconds(pid_t pid);
// Resident set of `pid` in MiB: now (VmRSS) and at its peak (VmHWM).
double ProcessRssMb(pid_t pid);
double ProcessPeakRssMb(pid_t pid);
// Bytes of all regular files under `path` (0 when it does not exist).
uint64_t DirectoryBytes(const std::string& path);
// A fresh directory /tmp/volley-bench-XXXXXX (or under $VOLLEY_BENCH_DIR); "" on failure.
std::string MakeRunDirectory();

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

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_BENCH_UTIL_H_
