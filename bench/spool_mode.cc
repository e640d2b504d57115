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

}  // namespace

int RunSpoolMode(int argc, char** argv) {
  SpoolFlags flags;
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (NumberFlag(arg, "--messages=", &flags.messages) ||
        NumberFlag(arg, "--size=", &flags.size) ||
        NumberFlag(arg, "--concurrency=", &flags.concurrency)) {
      continue;
    }
    if (arg == "--deliver") {
      flags.deliver = true;
    } else if (arg == "--keep") {
      flags.keep = true;
    } else {
      std::fprintf(stderr, "volley-bench spool: unknown flag %s\n%s", argv[i], kUsage);
      return 1;
    }
  }
  if (flags.messages == 0 || flags.concurrency <= 0) {
    std::fprintf(stderr, "volley-bench spool: --messages and --concurrency must be > 0\n");
    return 1;
  }
  const std::string dir = MakeRunDirectory();
  if (dir.empty()) {
    std::perror("volley-bench: mkdtemp");
    return 1;
  }
  const double fdatasync_per_s = FdatasyncRate(dir);
  const std::string spool_path = absl::StrCat(dir, "/spool");
  absl::StatusOr<std::unique_ptr<queue::Spool>> spool = queue::Spool::Open(spool_path);
  if (!spool.ok()) {
    std::fprintf(stderr, "volley-bench: %s\n", std::string(spool.status().message()).c_str());
    return 1;
  }
  const uint64_t dir_bytes_start = DirectoryBytes(spool_path);

  // Synced commits (those that stored messages) and their durations; the writer thread is the
  // only one to touch this until the writer stops.
  std::vector<double> commit_ms;
  commit_ms.reserve(flags.messages);
  auto writer = std::make_unique<queue::SpoolWriter>(
      spool->get(), [&commit_ms](absl::Duration elapsed, int messages, bool ok) {
        if (messages > 0 && ok) commit_ms.push_back(absl::ToDoubleMilliseconds(elapsed));
      });
  queue::MessageIdGenerator ids(Clock::Real());
  auto body = std::make_shared<const std::string>(
      MessageContent(0, "someone@spool.bench.test", flags.size));

  std::mutex mutex;
  std::condition_variable room;
  int outstanding = 0;
  std::atomic<size_t> done{0};
  std::atomic<size_t> failed{0};
  std::vector<float> ack_ms(flags.messages);
  uint64_t dir_bytes_peak = dir_bytes_start;
  absl::Time next_sample = absl::Now();

  std::fprintf(stderr,
               "volley-bench spool: %zu messages of %zu bytes, %d waiting at a time%s, in %s\n",
               flags.messages, flags.size, flags.concurrency,
               flags.deliver ? ", each completed once durable" : "", spool_path.c_str());
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < flags.messages; ++i) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      room.wait(lock, [&] { return outstanding < flags.concurrency; });
      ++outstanding;
    }
    if (flags.deliver && absl::Now() >= next_sample) {
      dir_bytes_peak = std::max(dir_bytes_peak, DirectoryBytes(spool_path));
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
    writer->Insert(std::move(meta), body, {recipient}, [&, i, id, submitted](absl::Status status) {
      ack_ms[i] = static_cast<float>(absl::ToDoubleMilliseconds(absl::Now() - submitted));
      if (!status.ok()) {
        failed.fetch_add(1);
      } else if (flags.deliver) {
        writer->RecipientDone(id, 0, absl::InfinitePast());
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        --outstanding;
      }
      done.fetch_add(1);
      room.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    room.wait(lock, [&] { return outstanding == 0; });
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  writer->Flush();
  const queue::SpoolWriterStats stats = writer->stats();

  // The spool's size once the flow has passed: at once, then after the writer's idle flush
  // (5 s without writes) and RocksDB's compactions have had their time, then closed.
  const uint64_t dir_bytes_end_live = DirectoryBytes(spool_path);
  uint64_t dir_bytes_idle = dir_bytes_end_live;
  if (flags.deliver) {
    for (int i = 0; i < 30; ++i) {
      absl::SleepFor(absl::Milliseconds(500));
      dir_bytes_idle = DirectoryBytes(spool_path);
    }
  }
  writer.reset();
  spool->reset();
  const uint64_t dir_bytes_end_closed = DirectoryBytes(spool_path);

  std::vector<double> acks(ack_ms.begin(), ack_ms.end());
  std::sort(acks.begin(), acks.end());
  std::sort(commit_ms.begin(), commit_ms.end());
  const double stored = static_cast<double>(stats.messages);
  std::fprintf(stderr,
               "volley-bench spool: %llu messages in %.2f s, %llu synced commits, %llu failed; "
               "fdatasync alone %.0f/s\n",
               static_cast<unsigned long long>(stats.messages), seconds,
               static_cast<unsigned long long>(stats.synced_commits),
               static_cast<unsigned long long>(failed.load()), fdatasync_per_s);
  if (!flags.keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  } else {
    std::fprintf(stderr, "volley-bench: kept %s\n", dir.c_str());
  }
  constexpr double kMb = 1024.0 * 1024.0;
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
      Percentile(commit_ms, 0.5), Percentile(commit_ms, 0.99), Percentile(acks, 0.5),
      Percentile(acks, 0.99), fdatasync_per_s, flags.deliver ? "true" : "false",
      dir_bytes_start / kMb, std::max(dir_bytes_peak, dir_bytes_end_live) / kMb,
      dir_bytes_end_live / kMb, dir_bytes_idle / kMb, dir_bytes_end_closed / kMb);
  return failed.load() == 0 && stats.messages == flags.messages ? 0 : 3;
}

}  // namespace volley::bench
