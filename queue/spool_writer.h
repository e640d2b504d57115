// The spool writer: one thread that turns every spool change into as few synced RocksDB writes
// as possible (group commit). Event loops never touch the disk; they queue changes here and get
// their completion back through a callback.
//
// What is synced, and why: a new message is synced before its completion runs (the injection
// server answers 250 only then), so an acknowledged message survives a crash or power loss.
// Removals (delivered, bounced, expired) and reschedules are written without waiting for a
// sync of their own: they ride along with the next synced commit, and if the machine fails
// before that, the recipient is simply delivered or tried again, a possible duplicate but never
// a loss.
//
// The writer also keeps, per message, the number of recipients still queued, so that the
// message and its body are deleted together with its last recipient.
#ifndef VOLLEY_QUEUE_SPOOL_WRITER_H_
#define VOLLEY_QUEUE_SPOOL_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "queue/spool.h"

namespace volley::queue {

struct SpoolWriterStats {
  uint64_t commits = 0;         // RocksDB writes
  uint64_t synced_commits = 0;  // of which synced
  uint64_t messages = 0;        // new messages stored
  uint64_t operations = 0;      // every change, including removals and reschedules
  uint64_t failed_commits = 0;
  absl::Duration commit_time;  // total time spent in Write()
  absl::Duration max_commit_time;
};

class SpoolWriter {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  // Called on the writer thread after each commit with its duration (for metrics).
  using CommitObserver = absl::AnyInvocable<void(absl::Duration, int messages, bool ok)>;

  // `spool` must outlive the writer.
  explicit SpoolWriter(Spool* spool, CommitObserver observer = nullptr);
  ~SpoolWriter();  // Stop()s
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  // Stores a new message with all its recipients, synced. `done` runs on the writer thread
  // after the commit: OK once durable, or the error (then nothing of it was kept).
  void Insert(MessageMeta meta, std::shared_ptr<const std::string> body,
              std::vector<RecipientRecord> recipients, Done done);

  // A recipient reached a final state (delivered, bounced, expired): remove it, and the
  // message with its last recipient.
  void RecipientDone(MessageId id, uint32_t index);

  // Persists a recipient's new state (attempt count, next due time, last response).
  void Reschedule(MessageId id, RecipientRecord record);

  // Registers a message found by Spool::Recover with `remaining` queued recipients. Must be
  // called before any RecipientDone for it.
  void Track(MessageId id, uint32_t remaining);

  // Blocks until everything queued before the call is written and synced.
  void Flush();

  // Writes what is queued, then ends the thread. Later calls are dropped (and Insert's `done`
  // gets kUnavailable).
  void Stop();

  SpoolWriterStats stats() const;
  // Messages the writer is tracking (queued in the spool).
  uint64_t tracked_messages() const { return tracked_.load(std::memory_order_relaxed); }

 private:
  struct Op {
    enum class Kind { kInsert, kDone, kReschedule, kTrack, kFlush };
    Kind kind = Kind::kFlush;
    MessageMeta meta;  // kInsert: the message; others: meta.id only
    std::shared_ptr<const std::string> body;
    std::vector<RecipientRecord> recipients;  // kInsert: all; kReschedule: one
    uint32_t index = 0;                       // kDone; kTrack: remaining count
    Done done;
  };

  void Enqueue(Op op);
  void Run();
  void Commit(std::vector<Op>& ops);

  Spool* const spool_;
  CommitObserver observer_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Op> queue_;
  bool stopping_ = false;
  std::once_flag join_once_;

  // Writer thread only.
  absl::flat_hash_map<MessageId, uint32_t> remaining_;
  std::atomic<uint64_t> tracked_{0};

  mutable std::mutex stats_mutex_;
  SpoolWriterStats stats_;

  std::thread thread_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_SPOOL_WRITER_H_
