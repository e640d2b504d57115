// The suppression list's lookup, which the spool writer makes for every injected recipient:
// its cost with an empty list and with 1,000,000 entries (flushed to SST files, as a
// long-lived list is), for addresses not on it (the common case: the bloom filter answers) and
// for ones on it. `bazel run -c opt //bench:suppression_bench`.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "engine/base/clock.h"
#include "engine/base/logging.h"
#include "engine/bounce/suppression_list.h"
#include "queue/spool.h"

namespace volley::bounce {
namespace {

// A spool with `n` entries, made once per size for the whole run.
SuppressionList& ListOf(int n) {
  static auto* lists =
      new std::map<int,
                   std::pair<std::unique_ptr<queue::Spool>, std::unique_ptr<SuppressionList>>>();
  auto it = lists->find(n);
  if (it != lists->end()) return *it->second.second;
  const char* tmp = std::getenv("TMPDIR");
  const std::string path =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/suppression_bench_", n, "_", getpid());
  std::filesystem::remove_all(path);
  // The spools go when the run ends.
  static auto* paths = new std::vector<std::string>();
  if (paths->empty()) {
    std::atexit([] {
      for (const std::string& p : *paths) std::filesystem::remove_all(p);
    });
  }
  paths->push_back(path);
  absl::StatusOr<std::unique_ptr<queue::Spool>> spool = queue::Spool::Open(path);
  CHECK(spool.ok()) << spool.status();
  auto list = std::make_unique<SuppressionList>(spool->get(), &Clock::Real());
  for (int i = 0; i < n; ++i) {
    SuppressionEntry e;
    e.recipient = absl::StrCat("gone", i, "@d", i % 100, ".bench.test");
    e.reason = "550 5.1.1 user unknown";
    e.source = "bench";
    e.created = absl::Now();
    CHECK(list->Add(std::move(e), /*sync=*/false).ok());
  }
  CHECK((*spool)->FlushMemtables(/*wait=*/true).ok());
  CHECK((*spool)->CompactSuppressions().ok());
  SuppressionList& out = *list;
  (*lists)[n] = {*std::move(spool), std::move(list)};
  return out;
}

void BM_Lookup(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool hit = state.range(1) != 0;
  SuppressionList& list = ListOf(n);
  int i = 0;
  for (auto _ : state) {
    const std::string address = hit ? absl::StrCat("gone", i % n, "@d", i % n % 100, ".bench.test")
                                    : absl::StrCat("u", i, "@d", i % 100, ".bench.test");
    benchmark::DoNotOptimize(list.Lookup(address, ""));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(absl::StrCat(n, " entries, ", hit ? "on the list" : "not on it"));
}
BENCHMARK(BM_Lookup)->Args({0, 0})->Args({1000000, 0})->Args({1000000, 1});

}  // namespace
}  // namespace volley::bounce
