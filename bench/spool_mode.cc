// volley-bench spool: the spool writer alone, in process, on the real disk. `concurrency`
// messages are always waiting for their synced commit, as that many injection sessions
// waiting for their 250 would be; the writer's group commit puts all that are waiting into one
// synced write. With --deliver, each message's recipient is completed as soon as it is durable
// (the flow of a queue that keeps up), and the spool directory's size is followed.
//
// For comparison the run first measures the disk's fdatasync rate for one 4 KiB append per
// sync, as a spool that synced each message on its own would pay.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/volley_bench_modes.h"
#include "engine/base/clock.h"
#include "queue/message_id.h"
#include "queue/spool.h"
#include "queue/spool_writer.h"

namespace volley::bench {
namespace {

struct SpoolFlags {
  size_t messages = 100000;
  size_t size = 4096;
  int concurrency = 256;
  bool deliver = false;
  bool keep = false;
};

// fdatasync()s per second, each after a 4 KiB append, for about a second.
double FdatasyncRate(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/fsync-probe");
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) return 0;
  const std::string block(4096, 'f');
  const absl::Time start = absl::Now();
  int syncs = 0;
  while (absl::Now() - start < absl::Seconds(1) && syncs < 1000000) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    if (::fdatasync(fd) != 0) break;
    ++syncs;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  ::close(fd);
  ::unlink(path.c_str());
  return seconds > 0 ? syncs / seconds : 0;
}

// Keeps `concurrency` inserts waiting for their synced commit, as that many injection sessions
// waiting for their 250 would be, and records how long each waited for its acknowledgement.
// The writer thread's callbacks use it until the writer stops, so it must outlive the writer.
class InsertWindow {
 public:
  InsertWindow(size_t messages, int concurrency) : concurrency_(concurrency), ack_ms_(messages) {}

  // Blocks until fewer than `concurrency` inserts wait, then counts one more.
  void Acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [&] { return outstanding_ < concurrency_; });
    ++outstanding_;
  }
  // On the writer thread: insert `index`, submitted at `submitted`, is acknowledged.
  void RecordAck(size_t index, absl::Time submitted, bool ok) {
    ack_ms_[index] = static_cast<float>(absl::ToDoubleMilliseconds(absl::Now() - submitted));
    if (!ok) failed_.fetch_add(1);
  }
  // On the writer thread, after RecordAck: the insert no longer waits.
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --outstanding_;
    }
    room_.notify_one();
  }
  // Blocks until no insert waits.
  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [&] { return outstanding_ == 0; });
  }

  size_t failed() const { return failed_.load(); }
  // Call once the window is idle.
  std::vector<double> SortedAckMs() const {
    std::vector<double> acks(ack_ms_.begin(), ack_ms_.end());
    std::sort(acks.begin(), acks.end());
    return acks;
  }

 private:
  const int concurrency_;
  std::mutex mutex_;
  std::condition_variable room_;
  int outstanding_ = 0;
  std::atomic<size_t> failed_{0};
  std::vector<float> ack_ms_;
};

// The spool directory's size over the run: before it, its peak while messages flow, at once
// when they have passed, after the writer's idle flush and compactions (with --deliver), and
// once the spool is closed.
struct SpoolDirSizes {
  uint64_t start = 0, peak = 0, end_live = 0, idle = 0, closed = 0;
};

// What a run measured, for the report.
struct SpoolReport {
  double fdatasync_per_s = 0;
  double seconds = 0;  // from the first insert until every one was acknowledged
  queue::SpoolWriterStats stats;
  size_t failed = 0;
  std::vector<double> commit_ms;  // synced commits that stored messages, sorted
  std::vector<double> ack_ms;     // per message, sorted
  SpoolDirSizes dir_bytes;
};

bool ParseSpoolFlags(int argc, char** argv, SpoolFlags* flags) {
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (NumberFlag(arg, "--messages=", &flags->messages) ||
        NumberFlag(arg, "--size=", &flags->size) ||
        NumberFlag(arg, "--concurrency=", &flags->concurrency)) {
      continue;
    }
    if (arg == "--deliver") {
      flags->deliver = true;
    } else if (arg == "--keep") {
      flags->keep = true;
    } else {
      std::fprintf(stderr, "volley-bench spool: unknown flag %s\n%s", argv[i], kUsage);
      return false;
    }
  }
  if (flags->messages == 0 || flags->concurrency <= 0) {
    std::fprintf(stderr, "volley-bench spool: --messages and --concurrency must be > 0\n");
    return false;
  }
  return true;
}

// Inserts every message through `writer`, never more than the window's concurrency waiting,
// and with --deliver completes each one's recipient once it is durable and samples the spool
// directory's peak size. Returns the seconds until the last was acknowledged.
double InsertMessages(const SpoolFlags& flags, const std::string& spool_path,
                      queue::SpoolWriter* writer, InsertWindow* window, uint64_t* dir_bytes_peak) {
  queue::MessageIdGenerator ids(Clock::Real());
  auto body = std::make_shared<const std::string>(
      MessageContent(0, "someone@spool.bench.test", flags.size));
  absl::Time next_sample = absl::Now();
  std::fprintf(stderr,
               "volley-bench spool: %zu messages of %zu bytes, %d waiting at a time%s, in %s\n",
               flags.messages, flags.size, flags.concurrency,
               flags.deliver ? ", each completed once durable" : "", spool_path.c_str());
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < flags.messages; ++i) {
    window->Acquire();
    if (flags.deliver && absl::Now() >= next_sample) {
      *dir_bytes_peak = std::max(*dir_bytes_peak, DirectoryBytes(spool_path));
      next_sample = absl::Now() + absl::Milliseconds(250);
    }
    queue::MessageMeta meta;
    meta.id = ids.Next();
    meta.sender = "bench@volley.test";
    meta.created = absl::Now();
    meta.size = body->size();
    meta.num_recipients = 1;
    queue::RecipientRecord recipient;
    recipient.address = absl::StrCat("u", i, "@spool.bench.test");
    const absl::Time submitted = absl::Now();
    const queue::MessageId id = meta.id;
    const bool deliver = flags.deliver;
    writer->Insert(std::move(meta), body, {recipient},
                   [window, writer, deliver, i, id, submitted](absl::Status status) {
                     window->RecordAck(i, submitted, status.ok());
                     if (status.ok() && deliver) writer->RecipientDone(id, 0, absl::InfinitePast());
                     window->Release();
                   });
  }
  window->WaitIdle();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// Opens the spool in `spool_path`, runs the flow through a SpoolWriter, and closes the spool
// again, measuring as it goes. False when the spool does not open.
bool RunSpoolFlow(const SpoolFlags& flags, const std::string& spool_path, SpoolReport* report) {
  absl::StatusOr<std::unique_ptr<queue::Spool>> spool = queue::Spool::Open(spool_path);
  if (!spool.ok()) {
    std::fprintf(stderr, "volley-bench: %s\n", std::string(spool.status().message()).c_str());
    return false;
  }
  SpoolDirSizes& dir_bytes = report->dir_bytes;
  dir_bytes.start = DirectoryBytes(spool_path);
  dir_bytes.peak = dir_bytes.start;
  // Only the writer thread touches commit_ms until the writer stops.
  std::vector<double>& commit_ms = report->commit_ms;
  commit_ms.reserve(flags.messages);
  InsertWindow window(flags.messages, flags.concurrency);
  auto writer = std::make_unique<queue::SpoolWriter>(
      spool->get(), [&commit_ms](absl::Duration elapsed, int messages, bool ok) {
        if (messages > 0 && ok) commit_ms.push_back(absl::ToDoubleMilliseconds(elapsed));
      });
  report->seconds = InsertMessages(flags, spool_path, writer.get(), &window, &dir_bytes.peak);
  writer->Flush();
  report->stats = writer->stats();

  // The spool's size once the flow has passed: at once, then after the writer's idle flush
  // (5 s without writes) and RocksDB's compactions have had their time, then closed.
  dir_bytes.end_live = DirectoryBytes(spool_path);
  dir_bytes.idle = dir_bytes.end_live;
  if (flags.deliver) {
    for (int i = 0; i < 30; ++i) {
      absl::SleepFor(absl::Milliseconds(500));
      dir_bytes.idle = DirectoryBytes(spool_path);
    }
  }
  writer.reset();
  spool->reset();
  dir_bytes.closed = DirectoryBytes(spool_path);
  report->failed = window.failed();
  report->ack_ms = window.SortedAckMs();
  std::sort(commit_ms.begin(), commit_ms.end());
  return true;
}

void PrintSpoolJson(const SpoolFlags& flags, const SpoolReport& report) {
  const double seconds = report.seconds;
  const double stored = static_cast<double>(report.stats.messages);
  const std::vector<double>& commit_ms = report.commit_ms;
  const SpoolDirSizes& dir_bytes = report.dir_bytes;
  std::printf(
      "{\"messages\": %zu, \"size\": %zu, \"concurrency\": %d, \"synced_messages_per_s\": %.0f, "
      "\"synced_commits_per_s\": %.0f, \"messages_per_commit\": %.1f, \"commit_p50_ms\": %.2f, "
      "\"commit_p99_ms\": %.2f, \"ack_p50_ms\": %.2f, \"ack_p99_ms\": %.2f, "
      "\"fdatasync_per_s\": %.0f, \"deliver\": %s, \"spool_dir_mb_start\": %.1f, "
      "\"spool_dir_mb_peak\": %.1f, \"spool_dir_mb_end\": %.1f, \"spool_dir_mb_idle\": %.1f, "
      "\"spool_dir_mb_closed\": %.1f}\n",
      flags.messages, flags.size, flags.concurrency, seconds > 0 ? stored / seconds : 0,
      seconds > 0 ? static_cast<double>(commit_ms.size()) / seconds : 0,
      commit_ms.empty() ? 0 : stored / static_cast<double>(commit_ms.size()),
      Percentile(commit_ms, 0.5), Percentile(commit_ms, 0.99), Percentile(report.ack_ms, 0.5),
      Percentile(report.ack_ms, 0.99), report.fdatasync_per_s, flags.deliver ? "true" : "false",
      dir_bytes.start / kBytesPerMb, std::max(dir_bytes.peak, dir_bytes.end_live) / kBytesPerMb,
      dir_bytes.end_live / kBytesPerMb, dir_bytes.idle / kBytesPerMb,
      dir_bytes.closed / kBytesPerMb);
}

}  // namespace

int RunSpoolMode(int argc, char** argv) {
  SpoolFlags flags;
  if (!ParseSpoolFlags(argc, argv, &flags)) return 1;
  const std::string dir = MakeRunDirectory();
  if (dir.empty()) return 1;
  SpoolReport report;
  report.fdatasync_per_s = FdatasyncRate(dir);
  const std::string spool_path = absl::StrCat(dir, "/spool");
  if (!RunSpoolFlow(flags, spool_path, &report)) return 1;

  std::fprintf(stderr,
               "volley-bench spool: %llu messages in %.2f s, %llu synced commits, %llu failed; "
               "fdatasync alone %.0f/s\n",
               static_cast<unsigned long long>(report.stats.messages), report.seconds,
               static_cast<unsigned long long>(report.stats.synced_commits),
               static_cast<unsigned long long>(report.failed), report.fdatasync_per_s);
  RemoveOrKeepRunDirectory(dir, flags.keep);
  PrintSpoolJson(flags, report);
  return report.failed == 0 && report.stats.messages == flags.messages ? 0 : 3;
}

}  // namespace volley::bench
