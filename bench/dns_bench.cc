// MxResolver cost on one loop, as a shard drives it:
//   - BM_CacheHit: Resolve of a cached domain plus the delivery of its
//     callback, round-robin over N cached domains (issue 4's target: at least
//     5 million per second per shard);
//   - BM_Uncached: resolutions of domains never seen before (the MX query, then
//     A, or A and AAAA, for the host), against a local unbound answering from
//     local data, with up to 50 lookups in flight.
//
//   bazel run -c opt //bench:dns_bench
#include <stdlib.h>
#include <uv.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "dns/mx_resolver.h"
#include "tests/support/unbound_server.h"

namespace volley::dns {
namespace {

using ::volley::test_support::DnsRecord;
using ::volley::test_support::UnboundOptions;
using ::volley::test_support::UnboundServer;

constexpr int kDomains = 100000;
// Lookups in flight while filling the cache or resolving. More than about 200
// queries in flight overflow unbound's UDP receive buffer (RcvbufErrors in
// /proc/net/snmp), and each lost query costs a c-ares timeout.
constexpr int kWindow = 50;

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "dns_bench: " << message << "\n";
  std::exit(1);
}

// One unbound for the whole run, serving d0.bench.test ... d99999.bench.test,
// each "MX 10 mx.bench.test.", and mx.bench.test with an A and an AAAA record.
// Local data is answered without unbound's recursion machinery, so unbound's
// own cost per query stays small.
struct Env {
  std::string dir;
  std::unique_ptr<UnboundServer> unbound;
  std::vector<std::string> domains;

  ~Env() {
    unbound.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Env& GetEnv() {
  // Destroyed at exit, which stops unbound and removes the directory.
  static Env env;
  if (env.unbound != nullptr) return env;
  char dir[] = "/tmp/dns_bench.XXXXXX";
  if (mkdtemp(dir) == nullptr) Die("mkdtemp failed");
  env.dir = dir;
  std::vector<DnsRecord> records;
  records.reserve(kDomains + 2);
  for (int i = 0; i < kDomains; ++i) {
    env.domains.push_back(absl::StrCat("d", i, ".bench.test"));
    records.push_back({env.domains.back(), "MX", "10 mx.bench.test.", 86400});
  }
  records.push_back({"mx.bench.test", "A", "192.0.2.1", 86400});
  records.push_back({"mx.bench.test", "AAAA", "2001:db8::1", 86400});
  UnboundOptions options;
  options.zones = {"bench.test"};
  options.ready_timeout = absl::Seconds(120);
  auto server = UnboundServer::Start(absl::StrCat(env.dir, "/unbound"), std::move(records),
                                     std::move(options));
  if (!server.ok()) Die(server.status().ToString());
  env.unbound = std::move(*server);
  return env;
}

// A loop with one resolver pointed at the benchmark's unbound.
class Harness {
 public:
  explicit Harness(IpLookupStrategy strategy) {
    if (uv_loop_init(&loop_) != 0) Die("uv_loop_init failed");
    ResolverOptions options;
    options.servers = {GetEnv().unbound->address()};
    options.ip_lookup_strategy = strategy;
    options.timeout = absl::Seconds(5);
    auto resolver = MxResolver::Create(&loop_, options);
    if (!resolver.ok()) Die(resolver.status().ToString());
    resolver_ = std::move(*resolver);
  }

  ~Harness() {
    bool done = false;
    resolver_->Shutdown([&] { done = true; });
    while (!done) uv_run(&loop_, UV_RUN_ONCE);
    resolver_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop_) != 0) Die("uv_loop_close: handles left open");
  }

  // Resolves domains [0, n) with up to kWindow in flight; every answer must be
  // kOk.
  void ResolveAll(int first, int n) {
    const std::vector<std::string>& domains = GetEnv().domains;
    int in_flight = 0;
    int failed = 0;
    for (int i = first; i < first + n; ++i) {
      while (in_flight >= kWindow) uv_run(&loop_, UV_RUN_ONCE);
      ++in_flight;
      resolver_->Resolve(domains[i], [&](const MxResult& r) {
        --in_flight;
        failed += r.outcome != MxOutcome::kOk;
      });
    }
    while (in_flight > 0) uv_run(&loop_, UV_RUN_ONCE);
    if (failed > 0) Die(absl::StrCat(failed, " lookups failed"));
  }

  uv_loop_t* loop() { return &loop_; }
  MxResolver& resolver() { return *resolver_; }

 private:
  uv_loop_t loop_;
  std::unique_ptr<MxResolver> resolver_;
};

void BM_CacheHit(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Harness harness(IpLookupStrategy::kIpv4ThenIpv6);
  harness.ResolveAll(0, n);
  const uint64_t sent = harness.resolver().queries_sent();
  const std::vector<std::string>& domains = GetEnv().domains;

  uint64_t delivered = 0;
  uint64_t posted = 0;
  int i = 0;
  for (auto _ : state) {
    harness.resolver().Resolve(domains[i],
                               [&delivered](const MxResult& r) { delivered += r.hosts.size(); });
    if (++i == n) i = 0;
    // Deliver the posted callbacks in batches, as a busy loop would.
    if ((++posted & 1023) == 0) uv_run(harness.loop(), UV_RUN_NOWAIT);
  }
  while (delivered < posted) uv_run(harness.loop(), UV_RUN_NOWAIT);
  state.SetItemsProcessed(state.iterations());
  if (harness.resolver().queries_sent() != sent) state.SkipWithError("a cache hit sent a query");
}
BENCHMARK(BM_CacheHit)->Arg(1000)->Arg(kDomains);

// The same with names that need normalising (upper case, trailing dot).
void BM_CacheHitMixedCase(benchmark::State& state) {
  const int n = 1000;
  Harness harness(IpLookupStrategy::kIpv4ThenIpv6);
  harness.ResolveAll(0, n);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(absl::StrCat("D", i, ".Bench.Test."));

  uint64_t delivered = 0;
  uint64_t posted = 0;
  int i = 0;
  for (auto _ : state) {
    harness.resolver().Resolve(names[i],
                               [&delivered](const MxResult& r) { delivered += r.hosts.size(); });
    if (++i == n) i = 0;
    if ((++posted & 1023) == 0) uv_run(harness.loop(), UV_RUN_NOWAIT);
  }
  while (delivered < posted) uv_run(harness.loop(), UV_RUN_NOWAIT);
  state.SetItemsProcessed(state.iterations());
  if (harness.resolver().cache_hits() < posted) state.SkipWithError("not every request hit");
}
BENCHMARK(BM_CacheHitMixedCase);

// Each iteration resolves a domain the resolver has not seen: one MX query,
// then A (ipv4_only) or A and AAAA (ipv4_then_ipv6) for its host.
void BM_Uncached(benchmark::State& state) {
  const auto strategy = static_cast<IpLookupStrategy>(state.range(0));
  Harness harness(strategy);
  int next = 0;
  for (auto _ : state) {
    harness.ResolveAll(next, 1000);
    next += 1000;
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.counters["queries_per_lookup"] =
      static_cast<double>(harness.resolver().queries_sent()) / (state.iterations() * 1000);
}
BENCHMARK(BM_Uncached)
    ->ArgName("strategy")
    ->Arg(static_cast<int>(IpLookupStrategy::kIpv4Only))
    ->Arg(static_cast<int>(IpLookupStrategy::kIpv4ThenIpv6))
    ->Iterations(50)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace volley::dns
