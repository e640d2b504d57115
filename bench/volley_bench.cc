// volley-bench: Volley's load generator.
//
//   volley-bench e2e --messages=N --size=BYTES --domains=D [--connections=C] [--threads=T]
//
// e2e starts its own DNS-free world: a fast SMTP sink on loopback, a volleyd subprocess whose
// [routes] send every benchmark domain to that sink, and an injector. It injects N messages
// over C pipelined connections, waits until the sink has them all, and prints one JSON line
// last: {"messages", "injected_per_s", "delivered_per_s", "latency_p50_ms", "latency_p99_ms",
// "engine_cpu_s_per_1000", "engine_peak_rss_mb", "lost", "duplicated", the spool
// directory's size at the start, at its peak, at the end and after volleyd stopped, and
// "drained": whether volleyd held no recipient before it stopped, which makes "duplicated"
// final (see RunE2e)}.
//
// spool, scale, submission and http: see bench/spool_mode.cc, bench/scale_mode.cc,
// bench/submission_mode.cc and bench/http_mode.cc.
// Every loop is bounded: by N, and by a deadline that ends the run when progress stops.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/smtp_injector.h"
#include "bench/smtp_sink.h"
#include "bench/volley_bench_modes.h"
#include "engine/bounce/suppression_list.h"
#include "tests/support/volleyd_process.h"
#include "tls/testdata/testdata_paths.h"

namespace volley::bench {

const char kUsage[] =
    "usage: volley-bench e2e --messages=N --size=BYTES --domains=D [--connections=C]\n"
    "                        [--threads=T] [--tls] [--limits] [--keep]\n"
    "  --messages     messages to inject (default 10000)\n"
    "  --size         approximate message size in bytes (default 4096)\n"
    "  --domains      recipient domains, each routed to the sink (default 100)\n"
    "  --connections  injection connections (default 16)\n"
    "  --threads      volleyd [server] threads (default 0: one per core)\n"
    "  --tls          the sink offers STARTTLS and volleyd uses it (tls = opportunistic)\n"
    "  --limits       shaping limits configured but far from binding (rates, a provider's\n"
    "                 shared connection limit and rate, a named limit): what they cost;\n"
    "                 without it rates are off (\"\")\n"
    "  --keep         keep the run's directory (spool, delivery log, config)\n"
    "  --suppressed   N entries on the suppression list first, none of them an injected\n"
    "                 recipient (every injection looks its recipients up; default 0)\n"
    "       volley-bench spool --messages=N --size=BYTES [--concurrency=C] [--deliver] [--keep]\n"
    "  the spool writer alone: synced group commits of C waiting messages (default 256);\n"
    "  --deliver completes each message once durable and follows the spool's size\n"
    "       volley-bench scale --messages=N [--size=BYTES] [--connections=C] [--keep]\n"
    "  N messages queued for an unreachable site: volleyd's memory per queued message, then\n"
    "  kill -9 and the time until the restarted volleyd reports them all and delivers again\n"
    "  (N default 1000000)\n"
    "       volley-bench submission --messages=N [--size=BYTES] [--connections=C]\n"
    "                               [--per-connection=M] [--rounds=R] [--keep]\n"
    "  SMTP injection over STARTTLS with AUTH next to plain SMTP injection, R alternating\n"
    "  rounds of N each (default 20000, 3), M messages per connection (default 100)\n"
    "       volley-bench http --messages=N [--size=BYTES] [--connections=C] [--batch=B]\n"
    "                         [--batch-connections=K] [--per-connection=M] [--rounds=R] [--keep]\n"
    "  POST /api/inject/v1 with 1 recipient per request over C keep-alive connections (default\n"
    "  16) and with B per request over K (default 1000, 4), next to SMTP injection over C\n"
    "  connections of M messages (default 0: one for the round); R alternating rounds of N\n"
    "  messages per kind (default 20000, 3)\n"
    "Runs go in /tmp/volley-bench-XXXXXX ($VOLLEY_BENCH_DIR instead of /tmp).\n";

namespace {

struct E2eFlags {
  size_t messages = 10000;
  size_t size = 4096;
  int domains = 100;
  int connections = 16;
  int threads = 0;
  bool tls = false;
  bool limits = false;
  bool keep = false;
  size_t suppressed = 0;  // suppression entries in the spool before volleyd starts
};

bool ParseE2eFlags(int argc, char** argv, E2eFlags* flags) {
  for (int i = 2; i < argc; ++i) {
    absl::string_view arg = argv[i];
    auto number = [&](absl::string_view prefix, auto* out) {
      if (!absl::ConsumePrefix(&arg, prefix)) return false;
      if (!absl::SimpleAtoi(arg, out)) {
        std::fprintf(stderr, "volley-bench: bad value in %s\n", argv[i]);
        std::exit(1);
      }
      return true;
    };
    if (number("--messages=", &flags->messages) || number("--size=", &flags->size) ||
        number("--domains=", &flags->domains) || number("--connections=", &flags->connections) ||
        number("--threads=", &flags->threads) || number("--suppressed=", &flags->suppressed)) {
      continue;
    }
    if (arg == "--keep") {
      flags->keep = true;
      continue;
    }
    if (arg == "--tls") {
      flags->tls = true;
      continue;
    }
    if (arg == "--limits") {
      flags->limits = true;
      continue;
    }
    std::fprintf(stderr, "volley-bench: unknown flag %s\n%s", argv[i], kUsage);
    return false;
  }
  if (flags->messages == 0 || flags->domains <= 0 || flags->connections <= 0) {
    std::fprintf(stderr, "volley-bench: --messages, --domains and --connections must be > 0\n");
    return false;
  }
  return true;
}

// Milliseconds from Reception to Delivery per message, from the delivery log.
std::vector<double> LatenciesFromLog(const std::string& path) {
  absl::flat_hash_map<std::string, absl::Time> received;
  std::vector<double> latencies;
  std::ifstream in(path);
  std::string line;
  auto field = [](absl::string_view line, absl::string_view name) -> absl::string_view {
    const std::string key = absl::StrCat("\"", name, "\":\"");
    const size_t at = line.find(key);
    if (at == absl::string_view::npos) return "";
    const size_t start = at + key.size();
    return line.substr(start, line.find('"', start) - start);
  };
  while (std::getline(in, line)) {
    const absl::string_view type = field(line, "type");
    if (type != "Reception" && type != "Delivery") continue;
    absl::Time t;
    std::string error;
    if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", std::string(field(line, "event_time")), &t,
                         &error)) {
      continue;
    }
    const std::string id(field(line, "id"));
    if (type == "Reception") {
      received[id] = t;
    } else if (auto it = received.find(id); it != received.end()) {
      latencies.push_back(absl::ToDoubleMilliseconds(t - it->second));
    }
  }
  std::sort(latencies.begin(), latencies.end());
  return latencies;
}

// Counts what the sink receives. The sink knows each message by the index in its recipient's
// local part ("u<index>@..."), so that a copy delivered twice shows as a duplicate.
class ArrivalCounter {
 public:
  explicit ArrivalCounter(size_t messages)
      : messages_(messages), arrivals_(new std::atomic<uint8_t>[messages]) {
    for (size_t i = 0; i < messages; ++i) arrivals_[i].store(0);
  }

  // On a sink thread, for every message the sink accepted.
  void OnMessage(const ReceivedMessage& m) {
    for (const std::string& rcpt : m.recipients) {
      size_t index = 0;
      const size_t at = rcpt.find('@');
      if (rcpt.size() < 2 || at == std::string::npos ||
          !absl::SimpleAtoi(absl::string_view(rcpt).substr(1, at - 1), &index) ||
          index >= messages_) {
        continue;
      }
      total_.fetch_add(1, std::memory_order_relaxed);
      if (arrivals_[index].fetch_add(1, std::memory_order_relaxed) == 0) {
        unique_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    last_arrival_ns_.store(absl::ToUnixNanos(absl::Now()), std::memory_order_relaxed);
  }

  // Benchmark messages delivered at least once.
  uint64_t unique() const { return unique_.load(); }
  // Copies of benchmark messages delivered, duplicates included.
  uint64_t total() const { return total_.load(); }
  absl::Time last_arrival() const { return absl::FromUnixNanos(last_arrival_ns_.load()); }

 private:
  const size_t messages_;
  std::unique_ptr<std::atomic<uint8_t>[]> arrivals_;
  std::atomic<uint64_t> unique_{0};
  std::atomic<uint64_t> total_{0};
  std::atomic<int64_t> last_arrival_ns_{0};
};

// What a run measured, for the report.
struct E2eReport {
  uint64_t acked = 0, rejected = 0, failed = 0;
  uint64_t delivered = 0;  // messages that reached the sink at least once
  uint64_t copies = 0;     // copies that reached it, duplicates included
  absl::Time started, injected, last_arrival;
  double cpu_before = 0, cpu_after = 0;
  double peak_rss_mb = 0;
  uint64_t spool_start = 0, spool_peak = 0, spool_end = 0, spool_closed = 0;
  bool drained = false;
  int exit_code = -1;
};

// The sink every benchmark domain is routed to; null (and a message) when it does not start.
// `arrivals` must outlive it.
std::unique_ptr<SmtpSink> StartE2eSink(const E2eFlags& flags, ArrivalCounter* arrivals) {
  SinkOptions sink_options;
  sink_options.threads = 1;
  if (flags.tls) {
    sink_options.tls_cert_file = tls::TlsTestDataPath("selfsigned.pem");
    sink_options.tls_key_file = tls::TlsTestDataPath("selfsigned.key");
  }
  sink_options.on_message = [arrivals](const ReceivedMessage& m) { arrivals->OnMessage(m); };
  absl::StatusOr<std::unique_ptr<SmtpSink>> sink = SmtpSink::Start(sink_options);
  if (!sink.ok()) {
    std::fprintf(stderr, "volley-bench: sink: %s\n", std::string(sink.status().message()).c_str());
    return nullptr;
  }
  return *std::move(sink);
}

// volleyd's config: short retries, and [routes] that send every benchmark domain to the sink.
std::string E2eConfig(const E2eFlags& flags, const std::string& dir, const std::string& log_path,
                      uint16_t sink_port) {
  std::string config = absl::StrCat(
      VolleydConfigHead(dir, flags.threads, log_path),
      "[delivery]\nretry_initial = \"5s\"\nretry_max = \"10s\"\n",
      "[shaping.default]\nconnection_limit = 10\nmax_deliveries_per_connection = 1000\n",
      "tls = \"", flags.tls ? "opportunistic" : "disabled", "\"\n");
  if (flags.limits) {
    // Every limit kind on the path of each message, none binding: per-path rates, a provider
    // that takes every domain with its shared connection limit and rate (leased across
    // shards), and a named shared limit.
    absl::StrAppend(&config,
                    "max_message_rate = \"10000000/s\"\nmax_connection_rate = \"100000/s\"\n"
                    "additional_connection_limits = { \"bench-all\" = 100000 }\n"
                    "[shaping.provider.\"bench\"]\nmatch = [\"DomainSuffix=.bench.test\"]\n"
                    "connection_limit = 10\nmax_message_rate = \"10000000/s\"\n");
  } else {
    absl::StrAppend(&config, "max_message_rate = \"\"\nmax_connection_rate = \"\"\n");
  }
  absl::StrAppend(&config, "[routes]\n");
  for (int d = 0; d < flags.domains; ++d) {
    absl::StrAppend(&config, "\"d", d, ".bench.test\" = { host = \"127.0.0.1:", sink_port,
                    "\" }\n");
  }
  return config;
}

// Injects the benchmark's messages into volleyd; false (and a message) when the injection
// fails as a whole.
bool InjectE2eMessages(const E2eFlags& flags, uint16_t smtp_port, E2eReport* report) {
  InjectorOptions injector;
  injector.host = "127.0.0.1";
  injector.port = smtp_port;
  injector.connections = flags.connections;
  std::fprintf(stderr,
               "volley-bench: injecting %zu messages of ~%zu bytes to %d domains over %d "
               "connections\n",
               flags.messages, flags.size, flags.domains, flags.connections);
  absl::StatusOr<InjectResult> result = InjectAll(
      injector,
      [&](size_t i) {
        InjectMessage m;
        m.mail_from = "bounces@bench.volley.test";
        m.recipients = {
            absl::StrCat("u", i, "@d", i % static_cast<size_t>(flags.domains), ".bench.test")};
        m.content = MessageContent(i, m.recipients[0], flags.size);
        return m;
      },
      flags.messages);
  if (!result.ok()) {
    std::fprintf(stderr, "volley-bench: injection: %s\n",
                 std::string(result.status().message()).c_str());
    return false;
  }
  report->acked = result->accepted;
  report->rejected = result->rejected;
  report->failed = result->failed;
  report->started = result->started;
  report->injected = result->finished;
  return true;
}

// Waits for the sink to have every acknowledged message, as long as deliveries keep coming,
// and samples the spool directory's peak size meanwhile.
void WaitForDeliveries(const ArrivalCounter& arrivals, uint64_t acked,
                       const std::string& spool_path, uint64_t* spool_peak) {
  absl::Time last_progress = absl::Now();
  uint64_t last_unique = 0;
  absl::Time next_sample = absl::Now();
  while (arrivals.unique() < acked) {
    absl::SleepFor(absl::Milliseconds(5));
    if (absl::Now() >= next_sample) {
      *spool_peak = std::max(*spool_peak, DirectoryBytes(spool_path));
      next_sample = absl::Now() + absl::Milliseconds(500);
    }
    const uint64_t now_unique = arrivals.unique();
    if (now_unique != last_unique) {
      last_unique = now_unique;
      last_progress = absl::Now();
    } else if (absl::Now() - last_progress > absl::Seconds(30)) {
      std::fprintf(stderr, "volley-bench: no delivery for 30 s; stopping\n");
      break;
    }
  }
}

// "duplicated" is final only once volleyd can send nothing more. Waiting out a retry
// (retry_initial = 5 s, plus a margin) would make a default run of 10,000 messages several
// times slower, so wait instead for volleyd to hold no recipient: scheduled, ready and in
// flight all 0 in /metrics. "scheduled" counts every recipient still in the spool, those
// waiting for a retry included, so at 0 every recipient is final and none will be sent
// again. And every copy sent is counted by then: the sink counts a message before it answers
// 250, so before volleyd can call the recipient delivered; a copy whose 250 volleyd missed
// (a reply timeout) was counted seconds before the retry that made its recipient final. The
// counts are read after volleyd exited and the sink stopped.
// Returns whether volleyd drained within 10 s.
bool WaitForDrain(uint16_t http_port) {
  // Recipients volleyd still holds (scheduled, ready or in flight); -1 when the scrape fails.
  auto queued_recipients = [http_port] {
    const QueueSizes sizes = ReadQueueSizes(http_port);
    return sizes.complete() ? sizes.total() : -1;
  };
  const absl::Time drain_deadline = absl::Now() + absl::Seconds(10);
  double held = queued_recipients();
  while (held != 0 && absl::Now() < drain_deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    held = queued_recipients();
  }
  if (held != 0) {
    std::fprintf(stderr,
                 "volley-bench: volleyd still holds %.0f recipients after 10 s; \"duplicated\" "
                 "counts only the copies delivered so far\n",
                 held);
  }
  return held == 0;
}

// Puts flags.suppressed entries on the suppression list of the spool at `spool_path`, for the
// bench's domains but other local parts than the injected recipients', so that every lookup
// misses, as most do in production.
bool FillSuppressionList(const E2eFlags& flags, const std::string& spool_path) {
  absl::StatusOr<std::unique_ptr<queue::Spool>> spool = queue::Spool::Open(spool_path);
  if (!spool.ok()) {
    std::fprintf(stderr, "volley-bench: %s\n", std::string(spool.status().message()).c_str());
    return false;
  }
  bounce::SuppressionList list(spool->get(), &Clock::Real());
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < flags.suppressed; ++i) {
    bounce::SuppressionEntry e;
    e.recipient =
        absl::StrCat("gone", i, "@d", i % static_cast<size_t>(flags.domains), ".bench.test");
    e.reason = "550 5.1.1 user unknown";
    e.source = "bench";
    e.created = start;
    if (absl::Status s = list.Add(std::move(e), /*sync=*/false); !s.ok()) {
      std::fprintf(stderr, "volley-bench: %s\n", std::string(s.message()).c_str());
      return false;
    }
  }
  // Flushed to SST files (with their bloom filters) and compacted, as a long-lived list is:
  // the load's compactions must not run during the measurement.
  if (absl::Status s = (*spool)->FlushMemtables(/*wait=*/true); !s.ok()) return false;
  if (absl::Status s = (*spool)->CompactSuppressions(); !s.ok()) return false;
  std::fprintf(stderr, "volley-bench: %zu suppression entries written in %.1f s\n",
               flags.suppressed, absl::ToDoubleSeconds(absl::Now() - start));
  return true;
}

// Runs the world in `dir`: the sink, volleyd routed to it, the injection and the wait for the
// deliveries; then stops volleyd and the sink, measuring as it goes. False when a part of the
// world does not start or the injection fails.
bool RunE2eWorld(const E2eFlags& flags, const std::string& dir, const std::string& log_path,
                 E2eReport* report) {
  ArrivalCounter arrivals(flags.messages);
  std::unique_ptr<SmtpSink> sink = StartE2eSink(flags, &arrivals);
  if (sink == nullptr) return false;
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  WriteTextFile(config_path, E2eConfig(flags, dir, log_path, sink->port()));
  if (flags.suppressed > 0 && !FillSuppressionList(flags, absl::StrCat(dir, "/spool")))
    return false;
  std::unique_ptr<test_support::VolleydProcess> volleyd =
      StartVolleyd(config_path, absl::StrCat(dir, "/volleyd.log"));
  if (volleyd == nullptr) return false;
  const pid_t pid = volleyd->pid();
  report->cpu_before = ProcessCpuSeconds(pid);
  const std::string spool_path = absl::StrCat(dir, "/spool");
  report->spool_start = DirectoryBytes(spool_path);
  report->spool_peak = report->spool_start;

  if (!InjectE2eMessages(flags, volleyd->smtp_port(), report)) return false;
  WaitForDeliveries(arrivals, report->acked, spool_path, &report->spool_peak);
  report->drained = WaitForDrain(volleyd->http_port());

  report->cpu_after = ProcessCpuSeconds(pid);
  report->peak_rss_mb = ProcessPeakRssMb(pid);
  report->last_arrival = arrivals.last_arrival();
  report->spool_end = DirectoryBytes(spool_path);
  absl::StatusOr<test_support::ExitResult> exit = volleyd->Terminate();
  report->exit_code = exit.ok() ? exit->exit_code : -1;
  sink->Stop();
  report->spool_closed = DirectoryBytes(spool_path);
  report->delivered = arrivals.unique();
  report->copies = arrivals.total();
  return true;
}

void PrintE2eJson(const E2eFlags& flags, const E2eReport& r, const std::vector<double>& latencies,
                  double inject_seconds, double deliver_seconds) {
  std::printf(
      "{\"messages\": %zu, \"injected_per_s\": %.0f, \"delivered_per_s\": %.0f, "
      "\"latency_p50_ms\": %.1f, \"latency_p99_ms\": %.1f, \"engine_cpu_s_per_1000\": %.3f, "
      "\"engine_peak_rss_mb\": %.1f, \"lost\": %llu, \"duplicated\": %llu, "
      "\"spool_dir_mb_start\": %.1f, \"spool_dir_mb_peak\": %.1f, \"spool_dir_mb_end\": %.1f, "
      "\"spool_dir_mb_closed\": %.1f, \"drained\": %s}\n",
      flags.messages, inject_seconds > 0 ? static_cast<double>(r.acked) / inject_seconds : 0,
      deliver_seconds > 0 ? static_cast<double>(r.delivered) / deliver_seconds : 0,
      Percentile(latencies, 0.50), Percentile(latencies, 0.99),
      (r.cpu_after - r.cpu_before) * 1000.0 / static_cast<double>(std::max<uint64_t>(1, r.acked)),
      r.peak_rss_mb, static_cast<unsigned long long>(r.acked - std::min(r.acked, r.delivered)),
      static_cast<unsigned long long>(r.copies - r.delivered), r.spool_start / kBytesPerMb,
      std::max(r.spool_peak, r.spool_end) / kBytesPerMb, r.spool_end / kBytesPerMb,
      r.spool_closed / kBytesPerMb, r.drained ? "true" : "false");
}

int RunE2e(const E2eFlags& flags) {
  const std::string dir = MakeRunDirectory();
  if (dir.empty()) return 1;
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  E2eReport report;
  if (!RunE2eWorld(flags, dir, log_path, &report)) return 1;

  const std::vector<double> latencies = LatenciesFromLog(log_path);
  const double inject_seconds = absl::ToDoubleSeconds(report.injected - report.started);
  const double deliver_seconds = absl::ToDoubleSeconds(report.last_arrival - report.started);
  std::fprintf(stderr,
               "volley-bench: acked %llu (refused %llu, failed %llu) in %.2f s; delivered %llu "
               "in %.2f s; volleyd exit %d\n",
               static_cast<unsigned long long>(report.acked),
               static_cast<unsigned long long>(report.rejected),
               static_cast<unsigned long long>(report.failed), inject_seconds,
               static_cast<unsigned long long>(report.delivered), deliver_seconds,
               report.exit_code);
  RemoveOrKeepRunDirectory(dir, flags.keep);
  PrintE2eJson(flags, report, latencies, inject_seconds, deliver_seconds);
  return report.delivered == report.acked && report.acked == flags.messages ? 0 : 3;
}

}  // namespace
}  // namespace volley::bench

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(volley::bench::kUsage, stderr);
    return 1;
  }
  const std::string mode = argv[1];
  if (mode == "e2e") {
    volley::bench::E2eFlags flags;
    if (!volley::bench::ParseE2eFlags(argc, argv, &flags)) return 1;
    return volley::bench::RunE2e(flags);
  }
  if (mode == "spool") return volley::bench::RunSpoolMode(argc, argv);
  if (mode == "scale") return volley::bench::RunScaleMode(argc, argv);
  if (mode == "submission") return volley::bench::RunSubmissionMode(argc, argv);
  if (mode == "http") return volley::bench::RunHttpMode(argc, argv);
  std::fprintf(stderr, "volley-bench: unknown mode '%s'\n%s", mode.c_str(), volley::bench::kUsage);
  return 1;
}
