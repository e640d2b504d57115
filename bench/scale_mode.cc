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

using test_support::VolleydProcess;

struct ScaleFlags {
  size_t messages = 1000000;
  size_t size = 4096;
  int connections = 16;
  int threads = 0;
  bool keep = false;
};

// The run's processes and files: volleyd, the live site it delivers to, and the injector
// options that reach volleyd.
struct ScaleWorld {
  std::string dir;
  std::string config_path;
  std::string volleyd_log;
  std::unique_ptr<SmtpSink> live;
  std::unique_ptr<VolleydProcess> volleyd;
  InjectorOptions injector;
};

// What a run measured, for the report.
struct ScaleReport {
  double inject_seconds = 0;
  double rss_empty_mb = 0;
  double rss_queued_mb = 0;
  double peak_rss_mb = 0;
  double spool_mb = 0;
  double bytes_per_message = 0;
  double ready_s = 0;       // from the restart until volleyd was ready
  double reported_s = -1;   // ... until it reported every queued recipient; -1: never
  double delivered_s = -1;  // ... until a fresh message reached the live site; -1: never
  double rss_restarted_mb = 0;
};

bool ParseScaleFlags(int argc, char** argv, ScaleFlags* flags) {
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (NumberFlag(arg, "--messages=", &flags->messages) ||
        NumberFlag(arg, "--size=", &flags->size) ||
        NumberFlag(arg, "--connections=", &flags->connections) ||
        NumberFlag(arg, "--threads=", &flags->threads)) {
      continue;
    }
    if (arg == "--keep") {
      flags->keep = true;
    } else {
      std::fprintf(stderr, "volley-bench scale: unknown flag %s\n%s", argv[i], kUsage);
      return false;
    }
  }
  if (flags->messages == 0 || flags->connections <= 0) {
    std::fprintf(stderr, "volley-bench scale: --messages and --connections must be > 0\n");
    return false;
  }
  return true;
}

// Starts the live site and volleyd, routing the unreachable site to a port on loopback that
// nobody listens on, and measures volleyd's empty-queue RSS once it has settled.
bool SetUpScaleWorld(const ScaleFlags& flags, ScaleWorld* world, ScaleReport* report) {
  absl::StatusOr<uint16_t> dead_port = test_support::FreeTcpPort();
  SinkOptions sink_options;
  absl::StatusOr<std::unique_ptr<SmtpSink>> live = SmtpSink::Start(sink_options);
  if (!dead_port.ok() || !live.ok()) {
    std::fprintf(stderr, "volley-bench: cannot set up the sites\n");
    return false;
  }
  world->live = *std::move(live);
  world->config_path = absl::StrCat(world->dir, "/volley.toml");
  WriteTextFile(world->config_path,
                absl::StrCat(VolleydConfigHead(world->dir, flags.threads, ""),
                             "[delivery]\nretry_initial = \"10m\"\nretry_max = \"1h\"\n"
                             "max_age = \"5d\"\n[routes]\n"
                             "\"unreachable.scale.test\" = { host = \"127.0.0.1:",
                             *dead_port, "\" }\n\"live.scale.test\" = { host = \"127.0.0.1:",
                             world->live->port(), "\" }\n"));
  world->volleyd_log = absl::StrCat(world->dir, "/volleyd.log");
  world->volleyd = StartVolleyd(world->config_path, world->volleyd_log);
  if (world->volleyd == nullptr) return false;
  absl::SleepFor(absl::Seconds(2));
  report->rss_empty_mb = ProcessRssMb(world->volleyd->pid());
  world->injector.port = world->volleyd->smtp_port();
  world->injector.connections = flags.connections;
  return true;
}

InjectMessage MessageForUnreachable(size_t index, size_t size) {
  InjectMessage m;
  m.mail_from = "bounces@scale.volley.test";
  m.recipients = {absl::StrCat("u", index, "@unreachable.scale.test")};
  m.content = MessageContent(index, m.recipients[0], size);
  return m;
}

// Polls until every one of `n` recipients was tried once and let go: all scheduled, none in
// memory for delivery. Returns the sizes last read.
QueueSizes WaitForSettledQueue(const VolleydProcess& volleyd, double n) {
  const absl::Time settle_deadline = absl::Now() + absl::Seconds(300);
  QueueSizes sizes;
  while (absl::Now() < settle_deadline) {
    sizes = ReadQueueSizes(volleyd.http_port());
    if (sizes.scheduled == n && sizes.ready == 0 && sizes.in_flight == 0) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  return sizes;
}

// Injects the N messages for the unreachable site and measures volleyd once they have settled
// in the spool. False when the injection falls short.
bool FillQueue(const ScaleFlags& flags, const ScaleWorld& world, ScaleReport* report) {
  std::fprintf(stderr,
               "volley-bench scale: injecting %zu messages of ~%zu bytes for an unreachable "
               "site (empty-queue RSS %.1f MiB)\n",
               flags.messages, flags.size, report->rss_empty_mb);
  absl::StatusOr<InjectResult> injected = InjectAll(
      world.injector, [&](size_t i) { return MessageForUnreachable(i, flags.size); },
      flags.messages);
  if (!injected.ok() || injected->accepted != flags.messages) {
    std::fprintf(stderr, "volley-bench scale: injection fell short: %s\n",
                 injected.ok() ? absl::StrCat(injected->accepted, " accepted").c_str()
                               : std::string(injected.status().message()).c_str());
    return false;
  }
  report->inject_seconds = absl::ToDoubleSeconds(injected->finished - injected->started);

  const double n = static_cast<double>(flags.messages);
  const QueueSizes sizes = WaitForSettledQueue(*world.volleyd, n);
  // The writer flushes its memtables after 5 s without writes; give it that and a little.
  absl::SleepFor(absl::Seconds(8));
  const pid_t pid = world.volleyd->pid();
  report->rss_queued_mb = ProcessRssMb(pid);
  report->peak_rss_mb = ProcessPeakRssMb(pid);
  report->spool_mb = DirectoryBytes(absl::StrCat(world.dir, "/spool")) / kBytesPerMb;
  report->bytes_per_message = (report->rss_queued_mb - report->rss_empty_mb) * kBytesPerMb / n;
  std::fprintf(stderr,
               "volley-bench scale: injected in %.1f s; queue scheduled=%.0f ready=%.0f "
               "in_flight=%.0f; RSS %.1f MiB (%.0f bytes per queued message), peak %.1f MiB; "
               "spool %.0f MiB\n",
               report->inject_seconds, sizes.scheduled, sizes.ready, sizes.in_flight,
               report->rss_queued_mb, report->bytes_per_message, report->peak_rss_mb,
               report->spool_mb);
  return true;
}

// More mail arrives; kill -9 the moment it is all acknowledged, so that the restart has a full
// write-ahead log to replay. Returns how many more messages volleyd acknowledged, 0 when the
// injection fell short.
size_t InjectMoreAndKill(const ScaleFlags& flags, ScaleWorld* world) {
  const size_t extra = std::max<size_t>(1, flags.messages / 10);
  absl::StatusOr<InjectResult> more = InjectAll(
      world->injector,
      [&](size_t i) { return MessageForUnreachable(flags.messages + i, flags.size); }, extra);
  world->volleyd->Kill();
  if (!more.ok() || more->accepted != extra) {
    std::fprintf(stderr, "volley-bench scale: second injection fell short\n");
    return 0;
  }
  return extra;
}

// Seconds from `restart` until volleyd reports `queued_total` recipients, or -1 when it does
// not within 120 s of it; *after gets the sizes last read.
double WaitForAllReported(const VolleydProcess& volleyd, double queued_total, absl::Time restart,
                          QueueSizes* after) {
  const absl::Time report_deadline = restart + absl::Seconds(120);
  while (absl::Now() < report_deadline) {
    *after = ReadQueueSizes(volleyd.http_port());
    if (after->total() == queued_total) return absl::ToDoubleSeconds(absl::Now() - restart);
    absl::SleepFor(absl::Milliseconds(20));
  }
  return -1;
}

// Delivering again: a fresh message for the live site goes out while the queue is held.
// Returns the seconds from `restart` until the site had it, or -1.
double TimeToFreshDelivery(const ScaleWorld& world, absl::Time restart) {
  InjectorOptions one = world.injector;
  one.port = world.volleyd->smtp_port();
  one.connections = 1;
  const uint64_t live_before = world.live->messages();
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
  if (!fresh.ok() || fresh->accepted != 1) return -1;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    if (world.live->messages() > live_before) {
      return absl::ToDoubleSeconds(absl::Now() - restart);
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return -1;
}

// Restarts volleyd on the killed one's spool, measures how soon it is ready, reports the whole
// queue and delivers again, then stops it. False when it does not start.
bool RestartAndMeasure(size_t extra, double queued_total, ScaleWorld* world, ScaleReport* report) {
  const absl::Time restart = absl::Now();
  world->volleyd =
      StartVolleyd(world->config_path, world->volleyd_log, "restart: ", absl::Seconds(120));
  if (world->volleyd == nullptr) return false;
  report->ready_s = absl::ToDoubleSeconds(absl::Now() - restart);
  QueueSizes after;
  report->reported_s = WaitForAllReported(*world->volleyd, queued_total, restart, &after);
  report->delivered_s = TimeToFreshDelivery(*world, restart);
  report->rss_restarted_mb = ProcessRssMb(world->volleyd->pid());
  absl::StatusOr<test_support::ExitResult> exit = world->volleyd->Terminate(absl::Seconds(60));
  std::fprintf(stderr,
               "volley-bench scale: killed with %zu more just acknowledged; restarted: ready in "
               "%.2f s, all %.0f reported in %.2f s, "
               "fresh message delivered %.2f s after the kill; RSS %.1f MiB; exit %d\n",
               extra, report->ready_s, after.total(), report->reported_s, report->delivered_s,
               report->rss_restarted_mb, exit.ok() ? exit->exit_code : -1);
  return true;
}

void PrintScaleJson(const ScaleFlags& flags, const ScaleReport& r) {
  const double n = static_cast<double>(flags.messages);
  std::printf(
      "{\"messages\": %zu, \"size\": %zu, \"injected_per_s\": %.0f, \"rss_empty_mb\": %.1f, "
      "\"rss_queued_mb\": %.1f, \"rss_bytes_per_queued_message\": %.0f, \"peak_rss_mb\": %.1f, "
      "\"spool_dir_mb\": %.0f, \"restart_ready_s\": %.2f, \"restart_all_reported_s\": %.2f, "
      "\"restart_delivering_s\": %.2f, \"rss_after_restart_mb\": %.1f}\n",
      flags.messages, flags.size, r.inject_seconds > 0 ? n / r.inject_seconds : 0, r.rss_empty_mb,
      r.rss_queued_mb, r.bytes_per_message, r.peak_rss_mb, r.spool_mb, r.ready_s, r.reported_s,
      r.delivered_s, r.rss_restarted_mb);
}

}  // namespace

int RunScaleMode(int argc, char** argv) {
  ScaleFlags flags;
  if (!ParseScaleFlags(argc, argv, &flags)) return 1;
  ScaleWorld world;
  world.dir = MakeRunDirectory();
  if (world.dir.empty()) return 1;
  // A failed set-up leaves the directory behind, volleyd's log in it.
  ScaleReport report;
  if (!SetUpScaleWorld(flags, &world, &report)) return 1;
  if (!FillQueue(flags, world, &report)) {
    RemoveOrKeepRunDirectory(world.dir, flags.keep);
    return 3;
  }
  const size_t extra = InjectMoreAndKill(flags, &world);
  if (extra == 0) {
    RemoveOrKeepRunDirectory(world.dir, flags.keep);
    return 3;
  }
  const double queued_total = static_cast<double>(flags.messages) + static_cast<double>(extra);
  if (!RestartAndMeasure(extra, queued_total, &world, &report)) {
    RemoveOrKeepRunDirectory(world.dir, flags.keep);
    return 1;
  }
  RemoveOrKeepRunDirectory(world.dir, flags.keep);
  PrintScaleJson(flags, report);
  const bool ok = report.bytes_per_message <= 1024 && report.reported_s >= 0 &&
                  report.reported_s <= 10 && report.delivered_s >= 0 && report.delivered_s <= 10;
  return ok ? 0 : 3;
}

}  // namespace volley::bench
