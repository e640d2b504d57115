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
// retry soon; every other queued recipient lives only in the spool, in the due-time index. The
// writer owns the loader (due_loader.h), which keeps the set of recipients in memory and reads
// from the index the ones that come due; it runs on the writer thread, in order with the
// commits that change that set.
//
// The writer also knows, per message, how many recipients are still queued (counted from the
// spool the first time it matters), so that the message and its body are deleted with the
// last one, and the total count of queued recipients, kept in the spool.
#ifndef VOLLEY_QUEUE_SPOOL_WRITER_H_
#define VOLLEY_QUEUE_SPOOL_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "queue/due_loader.h"
#include "queue/spool.h"

namespace volley::queue {

struct SpoolWriterStats {
  uint64_t commits = 0;         // RocksDB writes
  uint64_t synced_commits = 0;  // of which synced
  uint64_t messages = 0;        // new messages stored
  uint64_t operations = 0;      // every change, including removals and reschedules
  uint64_t failed_commits = 0;
  uint64_t idle_flushes = 0;   // memtable flushes after a pause in the writes
  uint64_t loaded = 0;         // recipients read back from the index for the engine
  uint64_t load_passes = 0;    // times the loader looked at the index (or found the budget full)
  absl::Duration commit_time;  // total time spent in Write()
  absl::Duration max_commit_time;
};

// A queued recipient's place in the spool: its record and its due-time index entry.
struct RecipientRef {
  MessageId id = 0;
  uint32_t index = 0;
  absl::Time due;
};

// Thread: Insert, RecipientDone, Reschedule, StartLoader, Flush, Stop and the accessors may be
// called from any thread; the writes, the completions, the commit observer and the loader run
// on the writer's own thread.
class SpoolWriter {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  // Whether to store one recipient of a new message (on the writer thread, just before the
  // write: the suppression list's lookups happen there, with no trip of their own).
  using RecipientFilter = std::function<bool(const MessageMeta&, const RecipientRecord&)>;
  // Called on the writer thread after each commit with its duration (for metrics).
  using CommitObserver = absl::AnyInvocable<void(absl::Duration, int messages, bool ok)>;
  // Recipients read from the index, for the engine; called on the writer thread.
  using LoadFn = DueLoader::LoadFn;

  // `spool` must outlive the writer. Reads the spool's recipient count.
  SpoolWriter(Spool* spool, CommitObserver observer = nullptr, Clock& clock = Clock::Real());
  ~SpoolWriter();  // Stop()s
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  // Stores a new message with all its recipients, synced. `done` runs on the writer thread
  // after the commit: OK once durable, or the error (then nothing of it was kept). Its
  // recipients are in memory (the engine delivers them from the injection). With `keep`, only
  // the recipients it keeps are stored, their indexes renumbered in order (and the message's
  // count with them); when it keeps none, nothing is written and `done` gets
  // kFailedPrecondition. `completes`: recipients of other messages that the new one finishes
  // (a delivery notice for them), removed in the same atomic write, as RecipientDone would;
  // when the write fails they stay queued and in the engine's hands (it tries again).
  void Insert(MessageMeta meta, std::shared_ptr<const std::string> body,
              std::vector<RecipientRecord> recipients, Done done, RecipientFilter keep = nullptr,
              std::vector<RecipientRef> completes = {});

  // A recipient reached a final state (delivered, bounced, expired): remove it (its index entry
  // is at `due`), and the message with its last recipient.
  void RecipientDone(MessageId id, uint32_t index, absl::Time due);

  // Persists a recipient's new state (attempt count, next due time, last response); its index
  // entry moves from `old_due`. With `keep_in_memory` the engine holds it until it comes due;
  // otherwise the engine has let it go and the loader reads it back when it comes due.
  void Reschedule(MessageId id, RecipientRecord record, absl::Time old_due, bool keep_in_memory);

  // Starts the loader: reading due recipients from the index and handing them to `load` (on the
  // writer thread), now and every `options.interval`, as long as fewer than `options.budget`
  // are in memory.
  void StartLoader(const LoaderOptions& options, LoadFn load);

  // Blocks until everything queued before the call is written and synced.
  void Flush();

  // Writes what is queued, then ends the thread. Later calls are dropped (and Insert's `done`
  // gets kUnavailable).
  void Stop();

  SpoolWriterStats stats() const;
  // Recipients in the spool (all states).
  uint64_t queued_recipients() const { return queued_.load(std::memory_order_relaxed); }
  // Inserts handed over whose `done` has not run yet (the writer's backlog of new messages,
  // which injection backpressure watches).
  int64_t pending_inserts() const { return pending_inserts_.load(std::memory_order_relaxed); }
  // Recipients the engine holds in memory (the loader's count).
  uint64_t resident_recipients() const { return loader_.resident_count(); }
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
    RecipientFilter filter;                   // kInsert
    std::vector<RecipientRef> completes;      // kInsert: removed in the same write
    bool filtered_out = false;                // kInsert: `filter` kept no recipient
    Done done;
  };
  // What a commit's changes add up to, besides the batch.
  struct Tally {
    bool sync = false;
    int messages = 0;
    int64_t queued_delta = 0;
    absl::flat_hash_map<MessageId, uint32_t> done_counts;  // removals per message
    // Remaining counts read for this commit (messages not seen since the start).
    absl::flat_hash_map<MessageId, uint32_t> counted;
  };

  void Enqueue(Op op);
  void Run();
  // Waits for changes, a stop, or the loader's start, and takes what is queued. False once
  // stopping with nothing left. Sets `*start_load` when the loader has just started.
  bool TakeWork(std::vector<Op>* ops, bool* start_load);
  // Commits `ops` in slices, so that one burst does not become one enormous write.
  void CommitInSlices(std::vector<Op>& ops);
  // Without writes in a round: probes an unhealthy spool, or flushes memtables after a pause.
  void AfterRound(bool wrote);
  void Commit(std::vector<Op>& ops);
  void AddToBatch(std::vector<Op>& ops, Spool::Batch& batch, Tally& tally);
  // A recipient's removal (kDone, or one an insert completes).
  void AddRemoval(const RecipientRef& ref, Spool::Batch& batch, Tally& tally);
  // The loader learns of a removal: done when written; when not, still queued, and let go
  // (the loader reads it back) or, without `let_go`, still held by the engine.
  void AfterRemoval(const RecipientRef& ref, bool ok, bool let_go);
  absl::Status WriteBatch(Spool::Batch& batch, const Tally& tally, size_t ops);
  void AfterCommit(std::vector<Op>& ops, const Tally& tally, bool ok);

  Spool* const spool_;
  CommitObserver observer_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int64_t> pending_inserts_{0};
  std::vector<Op> queue_;
  bool stopping_ = false;
  // StartLoader's arguments, until the writer thread starts the loader with them.
  bool loader_start_pending_ = false;
  LoaderOptions pending_loader_options_;
  LoadFn pending_load_;
  std::once_flag join_once_;

  // Writer thread only.
  absl::flat_hash_map<MessageId, uint32_t> remaining_;  // messages whose count was needed
  DueLoader loader_;           // its resident_count() and stats() from any thread
  uint64_t queued_count_ = 0;  // mirrors the spool's count
  // For the idle flush: when the last write was (real time; read only once there was one).
  absl::Time last_write_ = absl::InfinitePast();
  bool flushed_since_write_ = true;

  std::atomic<uint64_t> queued_{0};
  std::atomic<bool> healthy_{true};

  mutable std::mutex stats_mutex_;
  SpoolWriterStats stats_;

  std::thread thread_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_SPOOL_WRITER_H_
