#include "queue/spool.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "queue/encoding.h"
#include "queue/rocks_status.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/table_properties_collectors.h"

#if defined(__SANITIZE_THREAD__)
// Debian's RocksDB is not built with ThreadSanitizer, so the synchronisation inside it is
// invisible to TSan and its internal bookkeeping shows up as races. Every binary that links
// the spool gets these suppressions; our own use of RocksDB is still checked.
extern "C" const char* __tsan_default_suppressions() {
  return "race:librocksdb.so\n"
         "called_from_lib:librocksdb.so\n";
}
#endif

namespace volley::queue {
namespace {

// RocksDB's own messages go to volleyd's log, warnings and worse only. Its default, a LOG file
// in the spool directory, is the first thing to fail when the disk fills, and Debian's build
// (assertions on) aborts the process on the next line written after that failure.
class SpoolLogger : public rocksdb::Logger {
 public:
  SpoolLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::WARN_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buffer[1024];
    vsnprintf(buffer, sizeof(buffer), format, ap);
    // RocksDB calls many recoverable conditions errors; what they mean for the mail is
    // reported by the spool's callers.
    LOG(WARNING) << "rocksdb: " << buffer;
  }
};

constexpr char kSchemaKey[] = "volley.schema";
constexpr char kRecipientCountKey[] = "volley.recipients";
// The suppression list: a point read at every injection, mostly of addresses not in it, which a
// whole-key bloom filter answers without reading a block.
rocksdb::ColumnFamilyOptions SuppressionOptions() {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_size = 16ull << 20;
  return options;
}

std::string CountValue(uint64_t count) {
  std::string value;
  PutFixed64BE(&value, count);
  return value;
}

// kDataLoss naming the spool: volleyd exits 2 with it, and the operator needs the path.
absl::Status Corrupt(absl::string_view path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("spool ", path, " is corrupt: ", what));
}

// For Recover: reads the recipient records of message `id` from `rcpts`, which is at the first
// of them (if it has any), and leaves it at the next message's. Adds the index entry each of
// them needs to `expected_index`.
absl::StatusOr<std::vector<RecipientRecord>> TakeRecipients(
    rocksdb::Iterator* rcpts, MessageId id, absl::string_view path,
    absl::flat_hash_set<std::string>* expected_index) {
  std::vector<RecipientRecord> records;
  for (; rcpts->Valid(); rcpts->Next()) {
    absl::string_view key(rcpts->key().data(), rcpts->key().size());
    MessageId rcpt_id;
    uint32_t index;
    if (!GetFixed64BE(&key, &rcpt_id) || !GetFixed32BE(&key, &index)) {
      return Corrupt(path, "bad recipient key");
    }
    if (rcpt_id != id) break;
    RecipientRecord record;
    if (!DecodeRecipient(index, absl::string_view(rcpts->value().data(), rcpts->value().size()),
                         &record)) {
      return Corrupt(path, absl::StrCat("bad recipient record for message ", FormatQueueId(id)));
    }
    expected_index->insert(ScheduleKey::For(id, index, record.next_due).Encode());
    records.push_back(std::move(record));
  }
  return records;
}

// For Recover: makes the due-time index, read through `index`, hold exactly the entries in
// `expected`, deleting stray ones and putting missing ones in `cleanup`. Returns how many it
// fixed.
absl::StatusOr<uint64_t> RepairIndex(rocksdb::Iterator* index,
                                     absl::flat_hash_set<std::string> expected,
                                     rocksdb::ColumnFamilyHandle* schedule,
                                     rocksdb::WriteBatch* cleanup, absl::string_view path) {
  uint64_t repaired = 0;
  for (index->SeekToFirst(); index->Valid(); index->Next()) {
    const std::string key(index->key().data(), index->key().size());
    if (expected.erase(key) == 0) {
      cleanup->Delete(schedule, key).PermitUncheckedError();
      ++repaired;
    }
  }
  if (!index->status().ok()) return FromRocks(index->status(), "cannot scan spool", path);
  for (const std::string& missing : expected) {
    cleanup->Put(schedule, missing, "").PermitUncheckedError();
    ++repaired;
  }
  return repaired;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& path,
                                                   const SpoolOptions& options) {
  std::error_code ec;
  if (!options.create_if_missing) {
    if (!std::filesystem::exists(path, ec)) {
      return absl::NotFoundError(absl::StrCat("no spool at ", path));
    }
  } else {
    std::filesystem::create_directories(path, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create the spool directory ", path, ": ", ec.message()));
    }
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.info_log = std::make_shared<SpoolLogger>();
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Deleted messages keep their WAL files alive until the memtables holding them flush; cap
  // the total so a long-running spool does not accumulate logs.
  db_options.max_total_wal_size = 512ull << 20;
  db_options.keep_log_file_num = 5;
  db_options.max_log_file_size = 16ull << 20;

  rocksdb::ColumnFamilyOptions small_cf;
  small_cf.write_buffer_size = 32ull << 20;
  small_cf.compression = rocksdb::kNoCompression;
  // A queue deletes what it wrote moments ago. SST files dense with tombstones are compacted
  // soon rather than when their level fills, so that delivered mail leaves the disk.
  small_cf.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/1024,
                                                    /*deletion_trigger=*/512));

  rocksdb::ColumnFamilyOptions bodies_cf;
  bodies_cf.write_buffer_size = options.body_write_buffer_size;
  bodies_cf.max_write_buffer_number = 4;
  // Mail is often already compressed or encoded; CPU is better spent delivering.
  bodies_cf.compression = rocksdb::kNoCompression;
  bodies_cf.table_properties_collector_factories = small_cf.table_properties_collector_factories;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string name : kSpoolColumnFamilies) {
    descriptors.emplace_back(name, name == "bodies"        ? bodies_cf
                                   : name == "suppression" ? SuppressionOptions()
                                                           : small_cf);
  }

  auto spool = std::unique_ptr<Spool>(new Spool());
  spool->path_ = path;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::Options(db_options, small_cf), path, descriptors,
                                        &spool->handles_, &db);
  if (!s.ok()) return FromRocks(s, "cannot open spool", path);
  spool->db_.reset(db);
  spool->default_cf_ = spool->handles_[0];
  spool->messages_cf_ = spool->handles_[1];
  spool->bodies_cf_ = spool->handles_[2];
  spool->recipients_cf_ = spool->handles_[3];
  spool->schedule_cf_ = spool->handles_[4];
  spool->suppression_cf_ = spool->handles_[5];
  spool->webhooks_cf_ = spool->handles_[6];
  absl::Status schema = spool->CheckSchema();
  if (!schema.ok()) return schema;
  return spool;
}

absl::Status Spool::CheckSchema() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_cf_, kSchemaKey, &value);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    s = db_->Put(write_options, default_cf_, kSchemaKey, absl::StrCat(kSchemaVersion));
    if (!s.ok()) return FromRocks(s, "cannot initialise spool", path_);
    return absl::OkStatus();
  }
  if (!s.ok()) return FromRocks(s, "cannot read the schema version of spool", path_);
  int version = 0;
  if (!absl::SimpleAtoi(value, &version)) {
    return absl::DataLossError(
        absl::StrCat("spool ", path_, " has an unreadable schema version '", value, "'"));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "spool ", path_, " has schema version ", version, ", newer than this volleyd understands (",
        kSchemaVersion, "); run a newer volleyd"));
  }
  return absl::OkStatus();
}

Spool::~Spool() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

void Spool::Batch::PutMessage(const MessageMeta& meta, absl::string_view body,
                              const std::vector<RecipientRecord>& recipients) {
  const std::string key = EncodeMessageKey(meta.id);
  batch_.Put(spool_->messages_cf_, key, EncodeMeta(meta)).PermitUncheckedError();
  batch_.Put(spool_->bodies_cf_, key, rocksdb::Slice(body.data(), body.size()))
      .PermitUncheckedError();
  for (const RecipientRecord& record : recipients) {
    batch_
        .Put(spool_->recipients_cf_, EncodeRecipientKey(meta.id, record.index),
             EncodeRecipient(record))
        .PermitUncheckedError();
    batch_
        .Put(spool_->schedule_cf_,
             ScheduleKey::For(meta.id, record.index, record.next_due).Encode(), "")
        .PermitUncheckedError();
  }
}

void Spool::Batch::UpdateRecipient(MessageId id, const RecipientRecord& record,
                                   absl::Time old_due) {
  batch_.Put(spool_->recipients_cf_, EncodeRecipientKey(id, record.index), EncodeRecipient(record))
      .PermitUncheckedError();
  const std::string old_key = ScheduleKey::For(id, record.index, old_due).Encode();
  const std::string new_key = ScheduleKey::For(id, record.index, record.next_due).Encode();
  if (old_key != new_key) {
    batch_.Delete(spool_->schedule_cf_, old_key).PermitUncheckedError();
    batch_.Put(spool_->schedule_cf_, new_key, "").PermitUncheckedError();
  }
}

void Spool::Batch::DeleteRecipient(MessageId id, uint32_t index, absl::Time due) {
  batch_.Delete(spool_->recipients_cf_, EncodeRecipientKey(id, index)).PermitUncheckedError();
  batch_.Delete(spool_->schedule_cf_, ScheduleKey::For(id, index, due).Encode())
      .PermitUncheckedError();
}

void Spool::Batch::SetRecipientCount(uint64_t count) {
  batch_.Put(spool_->default_cf_, kRecipientCountKey, CountValue(count)).PermitUncheckedError();
}

void Spool::Batch::DeleteMessage(MessageId id) {
  const std::string key = EncodeMessageKey(id);
  // Written once, removed once: SingleDelete lets flush and compaction drop both.
  batch_.SingleDelete(spool_->messages_cf_, key).PermitUncheckedError();
  batch_.SingleDelete(spool_->bodies_cf_, key).PermitUncheckedError();
}

absl::Status Spool::Write(Batch* batch, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  rocksdb::Status s = db_->Write(write_options, &batch->batch_);
  if (!s.ok()) return FromRocks(s, "spool write failed for", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DueRecipient>> Spool::ReadDue(
    const ScheduleKey& from, absl::Time max_due, size_t limit,
    absl::FunctionRef<bool(MessageId, uint32_t)> skip, ScheduleKey* next) {
  std::vector<DueRecipient> out;
  *next = from;
  if (limit == 0) return out;
  const int64_t max_due_us = max_due == absl::InfinitePast() ? 0 : absl::ToUnixMicros(max_due);
  rocksdb::ReadOptions read_options;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, schedule_cf_));
  absl::flat_hash_map<MessageId, std::optional<MessageMeta>> metas;
  Batch repairs = NewBatch();
  for (it->Seek(from.Encode()); it->Valid() && out.size() < limit; it->Next()) {
    ScheduleKey key;
    if (!ScheduleKey::Decode(absl::string_view(it->key().data(), it->key().size()), &key)) {
      return absl::DataLossError(absl::StrCat("spool ", path_, " is corrupt: bad index key"));
    }
    if (key.due_us > max_due_us) break;
    // The next call starts just after this entry.
    *next = key;
    ++next->index;
    if (next->index == 0) ++next->id;  // index wrapped: unreachable in practice
    if (skip(key.id, key.index)) continue;
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), recipients_cf_,
                                 EncodeRecipientKey(key.id, key.index), &value);
    if (s.IsNotFound()) {
      // The recipient finished but the crash came before its index entry went.
      repairs.batch_.Delete(schedule_cf_, it->key()).PermitUncheckedError();
      continue;
    }
    if (!s.ok()) return FromRocks(s, "spool read failed for", path_);
    DueRecipient due;
    due.key = key;
    if (!DecodeRecipient(key.index, value, &due.record)) {
      return absl::DataLossError(
          absl::StrCat("spool ", path_, ": corrupt recipient record for ", FormatQueueId(key.id)));
    }
    auto [meta_it, inserted] = metas.try_emplace(key.id);
    if (inserted) {
      absl::StatusOr<MessageMeta> meta = ReadMeta(key.id);
      if (meta.ok()) {
        meta_it->second = *std::move(meta);
      } else if (meta.status().code() != absl::StatusCode::kNotFound) {
        return meta.status();
      }
    }
    if (!meta_it->second.has_value()) {
      // A recipient whose message is gone (an interrupted removal): nothing to deliver.
      repairs.batch_.Delete(schedule_cf_, it->key()).PermitUncheckedError();
      repairs.batch_.Delete(recipients_cf_, EncodeRecipientKey(key.id, key.index))
          .PermitUncheckedError();
      continue;
    }
    due.meta = *meta_it->second;
    out.push_back(std::move(due));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot read the spool index", path_);
  if (repairs.count() > 0) {
    absl::Status repaired = Write(&repairs, /*sync=*/false);
    if (!repaired.ok()) return repaired;
  }
  return out;
}

absl::StatusOr<uint32_t> Spool::CountRecipients(MessageId id) const {
  const std::string prefix = EncodeMessageKey(id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), recipients_cf_));
  uint32_t count = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++count;
  if (!it->status().ok()) return FromRocks(it->status(), "spool read failed for", path_);
  return count;
}

absl::StatusOr<uint64_t> Spool::RecipientCount() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_cf_, kRecipientCountKey, &value);
  if (s.ok()) {
    absl::string_view in = value;
    uint64_t count = 0;
    if (GetFixed64BE(&in, &count)) return count;
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "spool read failed for", path_);
  }
  // Not kept yet (or unreadable): count the records, and keep the result.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), recipients_cf_));
  uint64_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  if (!it->status().ok()) return FromRocks(it->status(), "spool read failed for", path_);
  Batch batch = NewBatch();
  batch.SetRecipientCount(count);
  absl::Status written = Write(&batch, /*sync=*/false);
  if (!written.ok()) return written;
  return count;
}

absl::StatusOr<MessageId> Spool::MaxMessageId() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), messages_cf_));
  it->SeekToLast();
  if (!it->status().ok()) return FromRocks(it->status(), "spool read failed for", path_);
  if (!it->Valid()) return MessageId{0};
  absl::string_view key(it->key().data(), it->key().size());
  MessageId id = 0;
  if (!GetFixed64BE(&key, &id)) {
    return absl::DataLossError(absl::StrCat("spool ", path_, " is corrupt: bad message key"));
  }
  return id;
}

absl::Status Spool::Resume() {
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) return FromRocks(s, "cannot resume spool", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Spool::ReadBody(MessageId id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), bodies_cf_, EncodeMessageKey(id), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no body for message ", FormatQueueId(id)));
  }
  if (!s.ok()) return FromRocks(s, "spool read failed for", path_);
  return value;
}

absl::StatusOr<MessageMeta> Spool::ReadMeta(MessageId id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), messages_cf_, EncodeMessageKey(id), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no message ", FormatQueueId(id)));
  }
  if (!s.ok()) return FromRocks(s, "spool read failed for", path_);
  MessageMeta meta;
  if (!DecodeMeta(id, value, &meta)) {
    return absl::DataLossError(
        absl::StrCat("spool ", path_, ": corrupt record for message ", FormatQueueId(id)));
  }
  return meta;
}

absl::StatusOr<std::vector<RecipientRecord>> Spool::ReadRecipients(MessageId id) const {
  std::vector<RecipientRecord> out;
  const std::string prefix = EncodeMessageKey(id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), recipients_cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    key.remove_prefix(8);
    uint32_t index;
    RecipientRecord record;
    if (!GetFixed32BE(&key, &index) ||
        !DecodeRecipient(index, absl::string_view(it->value().data(), it->value().size()),
                         &record)) {
      return absl::DataLossError(absl::StrCat(
          "spool ", path_, ": corrupt recipient record for message ", FormatQueueId(id)));
    }
    out.push_back(std::move(record));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "spool read failed for", path_);
  return out;
}

absl::StatusOr<Spool::RecoveryStats> Spool::Recover(
    absl::FunctionRef<void(const MessageMeta&, std::vector<RecipientRecord>)> fn) {
  RecoveryStats stats;
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> metas(db_->NewIterator(read_options, messages_cf_));
  std::unique_ptr<rocksdb::Iterator> rcpts(db_->NewIterator(read_options, recipients_cf_));
  Batch cleanup = NewBatch();
  // The index entries the live recipients need, to check the index against afterwards.
  absl::flat_hash_set<std::string> expected_index;

  metas->SeekToFirst();
  rcpts->SeekToFirst();
  // Both column families are ordered by message id: walk them together.
  while (metas->Valid() || rcpts->Valid()) {
    MessageId meta_id = UINT64_MAX;
    MessageId rcpt_id = UINT64_MAX;
    if (metas->Valid()) {
      absl::string_view key(metas->key().data(), metas->key().size());
      if (!GetFixed64BE(&key, &meta_id)) return Corrupt(path_, "bad message key");
    }
    if (rcpts->Valid()) {
      absl::string_view key(rcpts->key().data(), rcpts->key().size());
      if (!GetFixed64BE(&key, &rcpt_id)) return Corrupt(path_, "bad recipient key");
    }
    if (rcpt_id < meta_id) {
      // Recipients whose message is gone: the message was completed or never fully stored.
      uint32_t index = 0;
      absl::string_view key(rcpts->key().data(), rcpts->key().size());
      key.remove_prefix(8);
      GetFixed32BE(&key, &index);
      RecipientRecord record;
      DecodeRecipient(index, absl::string_view(rcpts->value().data(), rcpts->value().size()),
                      &record);
      cleanup.DeleteRecipient(rcpt_id, index, record.next_due);
      ++stats.orphans_removed;
      rcpts->Next();
      continue;
    }
    MessageMeta meta;
    if (!DecodeMeta(meta_id, absl::string_view(metas->value().data(), metas->value().size()),
                    &meta)) {
      return Corrupt(path_, absl::StrCat("bad record for message ", FormatQueueId(meta_id)));
    }
    absl::StatusOr<std::vector<RecipientRecord>> taken =
        TakeRecipients(rcpts.get(), meta_id, path_, &expected_index);
    if (!taken.ok()) return taken.status();
    std::vector<RecipientRecord> records = *std::move(taken);
    stats.max_id = std::max(stats.max_id, meta_id);
    if (records.empty()) {
      // Every recipient was completed but the crash came before the message was removed.
      cleanup.DeleteMessage(meta_id);
      ++stats.orphans_removed;
    } else {
      ++stats.messages;
      stats.recipients += records.size();
      fn(meta, std::move(records));
    }
    metas->Next();
  }
  if (!metas->status().ok()) return FromRocks(metas->status(), "cannot scan spool", path_);
  if (!rcpts->status().ok()) return FromRocks(rcpts->status(), "cannot scan spool", path_);

  // The due-time index must hold exactly one entry per live recipient.
  std::unique_ptr<rocksdb::Iterator> index(db_->NewIterator(read_options, schedule_cf_));
  absl::StatusOr<uint64_t> repaired =
      RepairIndex(index.get(), std::move(expected_index), schedule_cf_, &cleanup.batch_, path_);
  if (!repaired.ok()) return repaired.status();
  stats.index_repaired = *repaired;
  cleanup.SetRecipientCount(stats.recipients);
  absl::Status s = Write(&cleanup, /*sync=*/true);
  if (!s.ok()) return s;
  return stats;
}

uint64_t Spool::SumIntProperty(const std::string& property) const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    uint64_t value = 0;
    if (db_->GetIntProperty(handle, property, &value)) total += value;
  }
  return total;
}

uint64_t Spool::MemtableBytes() const {
  return SumIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables);
}

absl::Status Spool::FlushMemtables(bool wait) {
  rocksdb::FlushOptions options;
  options.wait = wait;
  options.allow_write_stall = true;
  rocksdb::Status s = db_->Flush(options, handles_);
  if (!s.ok()) return FromRocks(s, "cannot flush spool", path_);
  return absl::OkStatus();
}

uint64_t Spool::DiskBytes() const {
  return SumIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize);
}

}  // namespace volley::queue
