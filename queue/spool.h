// The RocksDB spool: the durable truth of what is queued. See queue/README.md for the schema.
//
// Column families:
//   default     "volley.schema" -> schema version (decimal text)
//               "volley.recipients" -> BE64 count of queued recipients
//               "volley.state/<kind>/<name>" -> engine state that must survive a restart
//               (suspensions, warm-up schedules), written by PutState
//   messages    BE64(id) -> MessageMeta (sender, created, size, recipient count)
//   bodies      BE64(id) -> the message content, stored once for all its recipients
//   recipients  BE64(id) BE32(index) -> RecipientRecord (address, attempts, next due, last reply)
//   schedule    BE64(due µs; 0 = at once) BE64(id) BE32(index) -> "" : the due-time index, one
//               entry per queued recipient, so that the engine can read what comes due next
//               without holding the whole queue in memory
//   suppression the suppression list's entries (engine/bounce/suppression_list.h), by key
//   webhooks    NAME NUL BE64(seq) -> a log record (JSON): each webhook's events not yet
//               accepted by its endpoint, in order (engine/webhook/webhook_queue.h)
//
// Message and body keys are written once and removed with SingleDelete, so a message that is
// delivered before its memtable is flushed leaves nothing behind on disk. Recipient records
// are rewritten on every retry and removed with Delete.
//
// Thread-safety: a Spool may be used from any thread (RocksDB's DB is thread-safe). In the
// engine, all writes go through the SpoolWriter thread.
#ifndef VOLLEY_QUEUE_SPOOL_H_
#define VOLLEY_QUEUE_SPOOL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "queue/encoding.h"
#include "rocksdb/write_batch.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace volley::queue {

// The records (MessageMeta, RecipientRecord, ScheduleKey), queue ids and their encodings are
// in encoding.h.

inline constexpr int kSchemaVersion = 1;
// The column families a spool has, in the order Spool::Open opens them ("default" first). Tests
// that open a spool with RocksDB directly must name them all.
inline constexpr const char* kSpoolColumnFamilies[] = {
    "default", "messages", "bodies", "recipients", "schedule", "suppression", "webhooks"};

// A queued recipient read back from the index, with what delivering it needs (not the body).
struct DueRecipient {
  ScheduleKey key;
  MessageMeta meta;
  RecipientRecord record;
};

struct SpoolOptions {
  // Memtable size for bodies: large enough that most messages are delivered (and their
  // SingleDelete meets their Put) before a flush writes them to an SST file.
  size_t body_write_buffer_size = 128ull << 20;
  // False for inspecting a spool (volleyd --spool-check): a missing one is kNotFound.
  bool create_if_missing = true;
};

class Spool {
 public:
  // Opens (creating when missing) the spool directory. Errors name the path: another process
  // holds it (kUnavailable), it is corrupt (kDataLoss), it has a newer schema
  // (kFailedPrecondition), or it cannot be created or read (kPermissionDenied / kInternal).
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& path,
                                                     const SpoolOptions& options = {});
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  const std::string& path() const { return path_; }

  // A set of changes committed atomically by Write().
  class Batch {
   public:
    // The message, its body, its recipients and their index entries.
    void PutMessage(const MessageMeta& meta, absl::string_view body,
                    const std::vector<RecipientRecord>& recipients);
    // A recipient's new state; its index entry moves from `old_due` to record.next_due.
    void UpdateRecipient(MessageId id, const RecipientRecord& record, absl::Time old_due);
    // A recipient is done (delivered, bounced, expired): the record and its index entry go.
    void DeleteRecipient(MessageId id, uint32_t index, absl::Time due);
    // Removes the message's meta and body (not its recipients).
    void DeleteMessage(MessageId id);
    void SetRecipientCount(uint64_t count);

    int count() const { return batch_.Count(); }
    size_t bytes() const { return batch_.GetDataSize(); }
    void Clear() { batch_.Clear(); }

   private:
    friend class Spool;
    explicit Batch(const Spool* spool) : spool_(spool) {}
    const Spool* spool_;
    rocksdb::WriteBatch batch_;
  };

  Batch NewBatch() const { return Batch(this); }

  // Commits the batch. With `sync`, returns only once the write-ahead log is on stable storage.
  absl::Status Write(Batch* batch, bool sync);
  // After a write error (disk full, I/O error) RocksDB refuses writes until it recovers; this
  // asks it to try now.
  absl::Status Resume();

  // Recipients from the due-time index in index order, starting at `from` (inclusive), due no
  // later than `max_due`, at most `limit` of them, leaving out those `skip` says (they are in
  // memory already). `*next` is where the following call should start. Index entries without a
  // recipient record (left by a crash) are removed on the way.
  absl::StatusOr<std::vector<DueRecipient>> ReadDue(
      const ScheduleKey& from, absl::Time max_due, size_t limit,
      absl::FunctionRef<bool(MessageId, uint32_t)> skip, ScheduleKey* next);

  // Recipients still queued for a message (its recipient records).
  absl::StatusOr<uint32_t> CountRecipients(MessageId id) const;
  // The persisted count of queued recipients; counted from the records (and written back) when
  // a spool does not have it.
  absl::StatusOr<uint64_t> RecipientCount();
  // The largest message id in the spool (0 when empty).
  absl::StatusOr<MessageId> MaxMessageId() const;

  absl::StatusOr<std::string> ReadBody(MessageId id) const;
  absl::StatusOr<MessageMeta> ReadMeta(MessageId id) const;
  // The recipients still queued for a message, in index order.
  absl::StatusOr<std::vector<RecipientRecord>> ReadRecipients(MessageId id) const;

  struct RecoveryStats {
    uint64_t messages = 0;
    uint64_t recipients = 0;
    uint64_t orphans_removed = 0;  // metas without recipients, recipients without a meta
    uint64_t index_repaired = 0;   // missing or stray due-time index entries fixed
    MessageId max_id = 0;
  };
  // Walks the whole spool (volleyd --spool-check): calls `fn` for each message that has queued
  // recipients, in id order, with those recipients; removes orphaned records left by a crash
  // between related writes, makes the due-time index match the recipients, and rewrites the
  // recipient count.
  absl::StatusOr<RecoveryStats> Recover(
      absl::FunctionRef<void(const MessageMeta&, std::vector<RecipientRecord>)> fn);

  // Engine state records (not messages): `kind` names the record type ("suspension"), `name`
  // the record. PutState and DeleteState commit at once (synced with `sync`), beside the
  // SpoolWriter's batches; they block, so the engine calls them off its loops. ReadState lists
  // one kind's records in name order.
  absl::Status PutState(absl::string_view kind, absl::string_view name, absl::string_view value,
                        bool sync);
  absl::Status DeleteState(absl::string_view kind, absl::string_view name, bool sync);
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadState(
      absl::string_view kind) const;

  // The suppression column family (spool_state.cc): entries written and removed at once
  // (synced with `sync`), read by key (nullopt: none), and scanned in key order: up to `limit`
  // entries whose keys start with `prefix` and come after `after` ("": from the first). They
  // block: the engine calls them off its loops.
  absl::Status PutSuppression(absl::string_view key, absl::string_view value, bool sync);
  absl::Status DeleteSuppression(absl::string_view key, bool sync);
  absl::StatusOr<std::optional<std::string>> GetSuppression(absl::string_view key) const;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanSuppressions(
      absl::string_view prefix, absl::string_view after, size_t limit) const;
  // The webhooks column family (spool_state.cc): records added and removed in one write, not
  // synced (a crash of the process keeps them in the WAL; a power loss may lose the latest),
  // scanned in key order like the suppressions, and the last key under a prefix (nullopt: none).
  absl::Status WriteWebhookRecords(const std::vector<std::pair<std::string, std::string>>& put,
                                   const std::vector<std::string>& remove);
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanWebhookRecords(
      absl::string_view prefix, absl::string_view after, size_t limit) const;
  absl::StatusOr<std::optional<std::string>> LastWebhookKey(absl::string_view prefix) const;

  // Compacts the suppression column family whole (after a bulk load, so that it reads as a
  // long-lived list does, without the load's compactions still to come). Blocks until done.
  absl::Status CompactSuppressions();

  // Bytes of SST files (RocksDB's count), for metrics.
  uint64_t DiskBytes() const;
  // Bytes in memtables (written, not yet in SST files; their WAL files are kept for them).
  uint64_t MemtableBytes() const;
  // Writes the memtables to SST files, so that the WAL files holding them can go. Messages
  // stored and removed while still in a memtable cancel out and never reach an SST file; what
  // is still queued does. With `wait` false RocksDB does it in the background.
  absl::Status FlushMemtables(bool wait);

 private:
  Spool() = default;
  // A RocksDB integer property summed over the column families.
  uint64_t SumIntProperty(const std::string& property) const;
  // Up to `limit` entries of `cf` under `prefix` after `after` (ScanSuppressions' rules).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      rocksdb::ColumnFamilyHandle* cf, absl::string_view prefix, absl::string_view after,
      size_t limit) const;
  absl::Status CheckSchema();

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* messages_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* bodies_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* recipients_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* schedule_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* suppression_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* webhooks_cf_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_SPOOL_H_
