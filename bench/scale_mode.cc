// volley-bench scale: a queue far larger than memory should hold. N messages are injected for a
// site whose port refuses connections; each recipient is tried once, fails, and is scheduled
// ten minutes out, which takes it out of volleyd's memory (the spool's due-time index has it).
// Measured: volleyd's resident memory per queued message beyond its empty-queue RSS, once the
// queue has settled. Then another N/10 messages are injected and volleyd is killed (kill -9)
// the moment the last is acknowledged, so that the restart has a full write-ahead log to
// replay. On the same spool: how long until the new volleyd is ready, reports every queued
// recipient in volley_queue_size, and has delivered a fresh message to a live site.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/smtp_injector.h"
#include "bench/smtp_sink.h"
#include "bench/volley_bench_modes.h"
#include "tests/support/volleyd_process.h"

namespace volley::bench {
namespace {

using test_support::HttpGet;
using test_support::MetricValue;
using test_support::VolleydProcess;

struct ScaleFlags {
  size_t messages = 1000000;
  size_t size = 4096;
  int connections = 16;
  int threads = 0;
  bool keep = false;
};

struct QueueSizes {
  double scheduled = -1, ready = -1, in_flight = -1;
  double total() const { return scheduled + ready + in_flight; }
};

QueueSizes ReadQueueSizes(const VolleydProcess& volleyd) {
  QueueSizes sizes;
  auto metrics = HttpGet("127.0.0.1", volleyd.http_port(), "/metrics");
  if (!metrics.ok() || metrics->status != 200) return sizes;
  sizes.scheduled = MetricValue(metrics->body, "volley_queue_size{state=\"scheduled\"}");
  sizes.ready = MetricValue(metrics->body, "volley_queue_size{state=\"ready\"}");
  sizes.in_flight = MetricValue(metrics->body, "volley_queue_size{state=\"in_flight\"}");
  return sizes;
}

}  // namespace

int RunScaleMode(int argc, char** argv) {
  ScaleFlags flags;
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (NumberFlag(arg, "--messages=", &flags.messages) ||
        NumberFlag(arg, "--size=", &flags.size) ||
        NumberFlag(arg, "--connections=", &flags.connections) ||
        NumberFlag(arg, "--threads=", &flags.threads)) {
      continue;
    }
    if (arg == "--keep") {
      flags.keep = true;
    } else {
      std::fprintf(stderr, "volley-bench scale: unknown flag %s\n%s", argv[i], kUsage);
      return 1;
    }
  }
  if (flags.messages == 0 || flags.connections <= 0) {
    std::fprintf(stderr, "volley-bench scale: --messages and --connections must be > 0\n");
    return 1;
  }
  const std::string dir = MakeRunDirectory();
  if (dir.empty()) {
    std::perror("volley-bench: mkdtemp");
    return 1;
  }
  auto cleanup = [&] {
    if (flags.keep) {
      std::fprintf(stderr, "volley-bench: kept %s\n", dir.c_str());
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  };

  // The unreachable site: a port on loopback that nobody listens on.
  absl::StatusOr<uint16_t> dead_port = test_support::FreeTcpPort();
  SinkOptions sink_options;
  absl::StatusOr<std::unique_ptr<SmtpSink>> live = SmtpSink::Start(sink_options);
  if (!dead_port.ok() || !live.ok()) {
    std::fprintf(stderr, "volley-bench: cannot set up the sites\n");
    return 1;
  }
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << "[server]\nthreads = " << flags.threads << "\nspool = \"" << dir
           << "/spool\"\nlog = \"\"\n"
           << "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\nmax_connections = 10000\n"
           << "[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"127.0.0.1:9\"]\n"
           << "[delivery]\nretry_initial = \"10m\"\nretry_max = \"1h\"\nmax_age = \"5d\"\n"
           << "[routes]\n"
           << "\"unreachable.scale.test\" = { host = \"127.0.0.1:" << *dead_port << "\" }\n"
           << "\"live.scale.test\" = { host = \"127.0.0.1:" << (*live)->port() << "\" }\n";
  }
  const std::string volleyd_log = absl::StrCat(dir, "/volleyd.log");
  absl::StatusOr<std::unique_ptr<VolleydProcess>> volleyd =
      VolleydProcess::Start(config_path, volleyd_log);
  if (!volleyd.ok()) {
    std::fprintf(stderr, "volley-bench: %s\n", std::string(volleyd.status().message()).c_str());
    return 1;
  }
  absl::SleepFor(absl::Seconds(2));
  const double rss_empty_mb = ProcessRssMb((*volleyd)->pid());

  InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  injector.connections = flags.connections;
  std::fprintf(stderr,
               "volley-bench scale: injecting %zu messages of ~%zu bytes for an unreachable "
               "site (empty-queue RSS %.1f MiB)\n",
               flags.messages, flags.size, rss_empty_mb);
  auto message_for_unreachable = [&](size_t i) {
    InjectMessage m;
    m.mail_from = "bounces@scale.volley.test";
    m.recipients = {absl::StrCat("u", i, "@unreachable.scale.test")};
    m.content = MessageContent(i, m.recipients[0], flags.size);
    return m;
  };
  absl::StatusOr<InjectResult> injected =
      InjectAll(injector, message_for_unreachable, flags.messages);
  if (!injected.ok() || injected->accepted != flags.messages) {
    std::fprintf(stderr, "volley-bench scale: injection fell short: %s\n",
                 injected.ok() ? absl::StrCat(injected->accepted, " accepted").c_str()
                               : std::string(injected.status().message()).c_str());
    cleanup();
    return 3;
  }
  const double inject_seconds = absl::ToDoubleSeconds(injected->finished - injected->started);

  // Every recipient tried once and let go: all scheduled, none in memory for delivery.
  const double n = static_cast<double>(flags.messages);
  const absl::Time settle_deadline = absl::Now() + absl::Seconds(300);
  QueueSizes sizes;
  while (absl::Now() < settle_deadline) {
    sizes = ReadQueueSizes(**volleyd);
    if (sizes.scheduled == n && sizes.ready == 0 && sizes.in_flight == 0) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  // The writer flushes its memtables after 5 s without writes; give it that and a little.
  absl::SleepFor(absl::Seconds(8));
  const double rss_queued_mb = ProcessRssMb((*volleyd)->pid());
  const double peak_rss_mb = ProcessPeakRssMb((*volleyd)->pid());
  const double spool_mb = DirectoryBytes(absl::StrCat(dir, "/spool")) / (1024.0 * 1024.0);
  const double bytes_per_message = (rss_queued_mb - rss_empty_mb) * 1024 * 1024 / n;
  std::fprintf(stderr,
               "volley-bench scale: injected in %.1f s; queue scheduled=%.0f ready=%.0f "
               "in_flight=%.0f; RSS %.1f MiB (%.0f bytes per queued message), peak %.1f MiB; "
               "spool %.0f MiB\n",
               inject_seconds, sizes.scheduled, sizes.ready, sizes.in_flight, rss_queued_mb,
               bytes_per_message, peak_rss_mb, spool_mb);

  // More mail arrives; kill -9 the moment it is all acknowledged.
  const size_t extra = std::max<size_t>(1, flags.messages / 10);
  absl::StatusOr<InjectResult> more = InjectAll(
      injector, [&](size_t i) { return message_for_unreachable(flags.messages + i); }, extra);
  (*volleyd)->Kill();
  if (!more.ok() || more->accepted != extra) {
    std::fprintf(stderr, "volley-bench scale: second injection fell short\n");
    cleanup();
    return 3;
  }
  const double queued_total = n + static_cast<double>(extra);
  const absl::Time restart = absl::Now();
  volleyd = VolleydProcess::Start(config_path, volleyd_log, absl::Seconds(120));
  if (!volleyd.ok()) {
    std::fprintf(stderr, "volley-bench: restart: %s\n",
                 std::string(volleyd.status().message()).c_str());
    cleanup();
    return 1;
  }
  const double ready_s = absl::ToDoubleSeconds(absl::Now() - restart);
  double reported_s = -1;
  QueueSizes after;
  const absl::Time report_deadline = restart + absl::Seconds(120);
  while (absl::Now() < report_deadline) {
    after = ReadQueueSizes(**volleyd);
    if (after.total() == queued_total) {
      reported_s = absl::ToDoubleSeconds(absl::Now() - restart);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Delivering again: a fresh message for a live site goes out while the queue is held.
  InjectorOptions one = injector;
  one.port = (*volleyd)->smtp_port();
  one.connections = 1;
  const uint64_t live_before = (*live)->messages();
  absl::StatusOr<InjectResult> fresh = InjectAll(
      one,
      [](size_t) {
        InjectMessage m;
        m.mail_from = "bounces@scale.volley.test";
        m.recipients = {"fresh@live.scale.test"};
        m.content = "Subject: fresh\r\n\r\nafter the restart\r\n";
        return m;
      },
      1);
  double delivered_s = -1;
  if (fresh.ok() && fresh->accepted == 1) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      if ((*live)->messages() > live_before) {
        delivered_s = absl::ToDoubleSeconds(absl::Now() - restart);
        break;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  const double rss_restarted_mb = ProcessRssMb((*volleyd)->pid());
  absl::StatusOr<test_support::ExitResult> exit = (*volleyd)->Terminate(absl::Seconds(60));
  std::fprintf(stderr,
               "volley-bench scale: killed with %zu more just acknowledged; restarted: ready in "
               "%.2f s, all %.0f reported in %.2f s, "
               "fresh message delivered %.2f s after the kill; RSS %.1f MiB; exit %d\n",
               extra, ready_s, after.total(), reported_s, delivered_s, rss_restarted_mb,
               exit.ok() ? exit->exit_code : -1);
  cleanup();
  std::printf(
      "{\"messages\": %zu, \"size\": %zu, \"injected_per_s\": %.0f, \"rss_empty_mb\": %.1f, "
      "\"rss_queued_mb\": %.1f, \"rss_bytes_per_queued_message\": %.0f, \"peak_rss_mb\": %.1f, "
      "\"spool_dir_mb\": %.0f, \"restart_ready_s\": %.2f, \"restart_all_reported_s\": %.2f, "
      "\"restart_delivering_s\": %.2f, \"rss_after_restart_mb\": %.1f}\n",
      flags.messages, flags.size, inject_seconds > 0 ? n / inject_seconds : 0, rss_empty_mb,
      rss_queued_mb, bytes_per_message, peak_rss_mb, spool_mb, ready_s, reported_s, delivered_s,
      rss_restarted_mb);
  const bool ok = bytes_per_message <= 1024 && reported_s >= 0 && reported_s <= 10 &&
                  delivered_s >= 0 && delivered_s <= 10;
  return ok ? 0 : 3;
}

}  // namespace volley::bench
