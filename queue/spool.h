// The RocksDB spool: the durable truth of what is queued. See queue/README.md for the schema.
//
// Column families:
//   default     "volley.schema" -> schema version (decimal text)
//   messages    BE64(id) -> MessageMeta (sender, created, size, recipient count)
//   bodies      BE64(id) -> the message content, stored once for all its recipients
//   recipients  BE64(id) BE32(index) -> RecipientRecord (address, attempts, next due, last reply)
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
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rocksdb/write_batch.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace volley::queue {

using MessageId = uint64_t;

// Queue ids as users see them: 16 lower-case hex digits.
std::string FormatQueueId(MessageId id);
std::optional<MessageId> ParseQueueId(absl::string_view text);

inline constexpr int kSchemaVersion = 1;

struct MessageMeta {
  MessageId id = 0;
  std::string sender;  // envelope sender; "" for the null reverse-path
  absl::Time created = absl::UnixEpoch();
  uint64_t size = 0;  // octets of content
  uint32_t num_recipients = 0;
  std::string message_id;  // the Message-ID header, for log records
  bool eight_bit = false;  // the content has octets above 127
  bool smtputf8 = false;   // injected with SMTPUTF8 (RFC 6531): must be relayed with it
  std::string dsn_ret;     // RFC 3461 RET (FULL or HDRS), "" when not given
  std::string dsn_envid;   // RFC 3461 ENVID (xtext as received), "" when not given

  friend bool operator==(const MessageMeta&, const MessageMeta&) = default;
};

struct RecipientRecord {
  uint32_t index = 0;  // position among the message's recipients
  std::string address;
  uint32_t attempts = 0;
  absl::Time next_due = absl::InfinitePast();  // InfinitePast: due at once
  std::string last_response;                   // the last transient failure, for operators
  std::string dsn_notify;                      // RFC 3461 NOTIFY as received, "" when not given
  std::string dsn_orcpt;                       // RFC 3461 ORCPT as received, "" when not given

  friend bool operator==(const RecipientRecord&, const RecipientRecord&) = default;
};

std::string EncodeMeta(const MessageMeta& meta);
bool DecodeMeta(MessageId id, absl::string_view value, MessageMeta* meta);
std::string EncodeRecipient(const RecipientRecord& record);
bool DecodeRecipient(uint32_t index, absl::string_view value, RecipientRecord* record);

struct SpoolOptions {
  // Memtable size for bodies: large enough that most messages are delivered (and their
  // SingleDelete meets their Put) before a flush writes them to an SST file.
  size_t body_write_buffer_size = 128ull << 20;
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
    void PutMessage(const MessageMeta& meta, absl::string_view body,
                    const std::vector<RecipientRecord>& recipients);
    void PutRecipient(MessageId id, const RecipientRecord& record);
    void DeleteRecipient(MessageId id, uint32_t index);
    // Removes the message's meta and body (not its recipients).
    void DeleteMessage(MessageId id);

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

  absl::StatusOr<std::string> ReadBody(MessageId id) const;
  absl::StatusOr<MessageMeta> ReadMeta(MessageId id) const;
  // The recipients still queued for a message, in index order.
  absl::StatusOr<std::vector<RecipientRecord>> ReadRecipients(MessageId id) const;

  struct RecoveryStats {
    uint64_t messages = 0;
    uint64_t recipients = 0;
    uint64_t orphans_removed = 0;  // metas without recipients, recipients without a meta
    MessageId max_id = 0;
  };
  // Calls `fn` for each message that has queued recipients, in id order, with those
  // recipients. Removes orphaned records left by a crash between related writes.
  absl::StatusOr<RecoveryStats> Recover(
      absl::FunctionRef<void(const MessageMeta&, std::vector<RecipientRecord>)> fn);

  // Bytes of SST files (RocksDB's count), for metrics.
  uint64_t DiskBytes() const;

 private:
  Spool() = default;
  absl::Status CheckSchema();

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* messages_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* bodies_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* recipients_cf_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_SPOOL_H_
