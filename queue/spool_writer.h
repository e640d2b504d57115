// The spool writer: one thread that turns every spool change into as few synced RocksDB writes
// as possible (group commit), and that feeds the engine the queued recipients coming due.
// Event loops never touch the disk; they queue changes here and get their completion back
// through a callback.
//
// What is synced, and why: a new message is synced before its completion runs (the injection
// server answers 250 only then), so an acknowledged message survives a crash or power loss.
// Removals (delivered, bounced, expired) and reschedules are written without waiting for a
// sync of their own: they ride along with the next synced commit, and a process crash does not
// lose them (they are in the write-ahead log already); after a power loss the latest of them
// may be lost, so a recipient is delivered or tried again: a possible duplicate, never a loss.
//
// Which recipients are in memory: the engine holds the recipients it is delivering or will
// retry soon (within the loader's horizon); every other queued recipient lives only in the
// spool, in the due-time index. The writer keeps the set of recipients in memory ("resident")
// and, on its own thread and therefore in order with every change, reads from the index the
// recipients that come due, up to a budget, and hands them to the engine. So memory does not
// grow with the size of the queue, and a restart reads only what is due first.
//
// The writer also knows, per message, how many recipients are still queued (counted from the
// spool the first time it matters), so that the message and its body are deleted with the
// last one, and the total count of queued recipients, kept in the spool.
#ifndef VOLLEY_QUEUE_SPOOL_WRITER_H_
#define VOLLEY_QUEUE_SPOOL_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "queue/spool.h"

namespace volley::queue {

struct SpoolWriterStats {
  uint64_t commits = 0;         // RocksDB writes
  uint64_t synced_commits = 0;  // of which synced
  uint64_t messages = 0;        // new messages stored
  uint64_t operations = 0;      // every change, including removals and reschedules
  uint64_t failed_commits = 0;
  uint64_t loaded = 0;         // recipients read back from the index for the engine
  absl::Duration commit_time;  // total time spent in Write()
  absl::Duration max_commit_time;
};

struct LoaderOptions {
  // Recipients held in memory (delivering, or retrying soon) above which nothing more is read
  // from the index.
  size_t budget = 100000;
  // Recipients due within this are read into memory, and kept there when rescheduled.
  absl::Duration horizon = absl::Minutes(1);
  // How often the index is looked at.
  absl::Duration interval = absl::Seconds(1);
};

class SpoolWriter {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  // Called on the writer thread after each commit with its duration (for metrics).
  using CommitObserver = absl::AnyInvocable<void(absl::Duration, int messages, bool ok)>;
  // Recipients read from the index, for the engine; called on the writer thread.
  using LoadFn = absl::AnyInvocable<void(std::vector<DueRecipient>)>;

  // `spool` must outlive the writer. Reads the spool's recipient count.
  SpoolWriter(Spool* spool, CommitObserver observer = nullptr, Clock& clock = Clock::Real());
  ~SpoolWriter();  // Stop()s
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  // Stores a new message with all its recipients, synced. `done` runs on the writer thread
  // after the commit: OK once durable, or the error (then nothing of it was kept). Its
  // recipients are in memory (the engine delivers them from the injection).
  void Insert(MessageMeta meta, std::shared_ptr<const std::string> body,
              std::vector<RecipientRecord> recipients, Done done);

  // A recipient reached a final state (delivered, bounced, expired): remove it (its index entry
  // is at `due`), and the message with its last recipient.
  void RecipientDone(MessageId id, uint32_t index, absl::Time due);

  // Persists a recipient's new state (attempt count, next due time, last response); its index
  // entry moves from `old_due`. With `keep_in_memory` the engine holds it until it comes due;
  // otherwise the engine has let it go and the loader reads it back when it comes due.
  void Reschedule(MessageId id, RecipientRecord record, absl::Time old_due, bool keep_in_memory);

  // Starts reading due recipients from the index and handing them to `load` (on the writer
  // thread), now and every `options.interval`, as long as fewer than `options.budget` are in
  // memory.
  void StartLoader(const LoaderOptions& options, LoadFn load);

  // Blocks until everything queued before the call is written and synced.
  void Flush();

  // Writes what is queued, then ends the thread. Later calls are dropped (and Insert's `done`
  // gets kUnavailable).
  void Stop();

  SpoolWriterStats stats() const;
  // Recipients in the spool (all states).
  uint64_t queued_recipients() const { return queued_.load(std::memory_order_relaxed); }
  // Recipients the engine holds in memory.
  uint64_t resident_recipients() const { return resident_count_.load(std::memory_order_relaxed); }
  // False after a failed commit until one succeeds again. While false, the writer tries a small
  // synced write every 200 ms by itself, so that it notices the spool working again
  // even when injection (refused meanwhile) brings no writes.
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

 private:
  struct Op {
    enum class Kind { kInsert, kDone, kReschedule, kFlush };
    Kind kind = Kind::kFlush;
    MessageMeta meta;  // kInsert: the message; others: meta.id only
    std::shared_ptr<const std::string> body;
    std::vector<RecipientRecord> recipients;  // kInsert: all; kReschedule: one
    uint32_t index = 0;                       // kDone
    absl::Time due;                           // kDone: the index entry; kReschedule: old one
    bool keep = false;                        // kReschedule
    Done done;
  };
  struct RecipientKey {
    MessageId id;
    uint32_t index;
    friend bool operator==(const RecipientKey&, const RecipientKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const RecipientKey& k) {
      return H::combine(std::move(h), k.id, k.index);
    }
  };

  void Enqueue(Op op);
  void Run();
  void Commit(std::vector<Op>& ops);
  void LoadDue();
  void SetResidentCount() { resident_count_.store(resident_.size(), std::memory_order_relaxed); }

  Spool* const spool_;
  CommitObserver observer_;
  Clock& clock_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Op> queue_;
  bool stopping_ = false;
  bool load_requested_ = false;
  std::once_flag join_once_;

  // Writer thread only.
  absl::flat_hash_map<MessageId, uint32_t> remaining_;  // messages whose count was needed
  absl::flat_hash_set<RecipientKey> resident_;
  ScheduleKey cursor_;  // where the next index read starts
  LoaderOptions loader_options_;
  LoadFn load_;
  absl::Time next_load_ = absl::InfiniteFuture();
  uint64_t queued_count_ = 0;  // mirrors the spool's count

  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> resident_count_{0};
  std::atomic<bool> healthy_{true};

  mutable std::mutex stats_mutex_;
  SpoolWriterStats stats_;

  std::thread thread_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_SPOOL_WRITER_H_
