// Spool: the engine's state records and the suppression column family (spool.h).
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "queue/rocks_status.h"
#include "queue/spool.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace volley::queue {
namespace {

constexpr char kStatePrefix[] = "volley.state/";

std::string StateKey(absl::string_view kind, absl::string_view name) {
  return absl::StrCat(kStatePrefix, kind, "/", name);
}

rocksdb::Slice AsSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

absl::Status Spool::PutState(absl::string_view kind, absl::string_view name,
                             absl::string_view value, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db_->Put(options, default_cf_, StateKey(kind, name),
                               rocksdb::Slice(value.data(), value.size()));
  if (!s.ok()) return FromRocks(s, "spool write failed for", path_);
  return absl::OkStatus();
}

absl::Status Spool::DeleteState(absl::string_view kind, absl::string_view name, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db_->Delete(options, default_cf_, StateKey(kind, name));
  if (!s.ok()) return FromRocks(s, "spool write failed for", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Spool::ReadState(
    absl::string_view kind) const {
  const std::string prefix = StateKey(kind, "");
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), default_cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace_back(it->key().ToString().substr(prefix.size()), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "spool read failed for", path_);
  return out;
}

absl::Status Spool::PutSuppression(absl::string_view key, absl::string_view value, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db_->Put(options, suppression_cf_, AsSlice(key), AsSlice(value));
  if (!s.ok()) return FromRocks(s, "spool write failed for", path_);
  return absl::OkStatus();
}

absl::Status Spool::DeleteSuppression(absl::string_view key, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db_->Delete(options, suppression_cf_, AsSlice(key));
  if (!s.ok()) return FromRocks(s, "spool write failed for", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Spool::GetSuppression(absl::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), suppression_cf_, AsSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "spool read failed for", path_);
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Spool::ScanSuppressions(
    absl::string_view prefix, absl::string_view after, size_t limit) const {
  return Scan(suppression_cf_, prefix, after, limit);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Spool::ScanWebhookRecords(
    absl::string_view prefix, absl::string_view after, size_t limit) const {
  return Scan(webhooks_cf_, prefix, after, limit);
}

absl::Status Spool::WriteWebhookRecords(const std::vector<std::pair<std::string, std::string>>& put,
                                        const std::vector<std::string>& remove) {
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : put) batch.Put(webhooks_cf_, key, value);
  for (const std::string& key : remove) batch.Delete(webhooks_cf_, key);
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return FromRocks(s, "spool write failed for", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Spool::LastWebhookKey(absl::string_view prefix) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), webhooks_cf_));
  // The first key past every key under the prefix, then one back.
  std::string end(prefix);
  end.append(8, '\xff');  // keys are the prefix and a BE64 sequence number
  it->SeekForPrev(end);
  if (!it->status().ok()) return FromRocks(it->status(), "spool read failed for", path_);
  if (!it->Valid() || !it->key().starts_with(AsSlice(prefix))) return std::optional<std::string>();
  return std::optional<std::string>(it->key().ToString());
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Spool::Scan(
    rocksdb::ColumnFamilyHandle* cf, absl::string_view prefix, absl::string_view after,
    size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
  it->Seek(AsSlice(after.empty() || after < prefix ? prefix : after));
  for (; it->Valid() && out.size() < limit && it->key().starts_with(AsSlice(prefix)); it->Next()) {
    if (!after.empty() && it->key() == AsSlice(after)) continue;
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "spool read failed for", path_);
  return out;
}

absl::Status Spool::CompactSuppressions() {
  rocksdb::Status s =
      db_->CompactRange(rocksdb::CompactRangeOptions(), suppression_cf_, nullptr, nullptr);
  if (!s.ok()) return FromRocks(s, "spool compaction failed for", path_);
  return absl::OkStatus();
}

}  // namespace volley::queue
