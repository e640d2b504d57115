#include "queue/spool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "queue/test_temp_path.h"
#include "rocksdb/db.h"

namespace volley::queue {
namespace {

MessageMeta Meta(MessageId id, uint32_t recipients) {
  MessageMeta meta;
  meta.id = id;
  meta.sender = "sender@example.com";
  meta.created = absl::FromUnixMicros(1700000000123456);
  meta.size = 11;
  meta.num_recipients = recipients;
  meta.message_id = "<m@example.com>";
  meta.eight_bit = id % 2 == 0;
  meta.smtputf8 = id % 3 == 0;
  meta.dsn_ret = "HDRS";
  meta.dsn_envid = "QQ+2B314";
  return meta;
}

std::vector<RecipientRecord> Recipients(uint32_t n) {
  std::vector<RecipientRecord> out;
  for (uint32_t i = 0; i < n; ++i) {
    RecipientRecord r;
    r.index = i;
    r.address = absl::StrCat("user", i, "@example.net");
    out.push_back(r);
  }
  return out;
}

TEST(Spool, StoresReadsAndRecoversMessages) {
  const std::string path = TempPath("spool_store");
  {
    auto spool = Spool::Open(path);
    ASSERT_TRUE(spool.ok()) << spool.status();
    Spool::Batch batch = (*spool)->NewBatch();
    batch.PutMessage(Meta(1, 2), "hello world", Recipients(2));
    batch.PutMessage(Meta(2, 1), "second body", Recipients(1));
    ASSERT_TRUE((*spool)->Write(&batch, /*sync=*/true).ok());
    EXPECT_EQ(*(*spool)->ReadBody(1), "hello world");
    EXPECT_EQ((*spool)->ReadMeta(2)->sender, "sender@example.com");
    EXPECT_EQ((*spool)->ReadRecipients(1)->size(), 2u);
    EXPECT_EQ((*spool)->ReadBody(3).status().code(), absl::StatusCode::kNotFound);
  }
  // Reopen: everything is still there, in id order, with its recipients.
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok()) << spool.status();
  std::vector<MessageId> ids;
  std::vector<size_t> counts;
  auto stats = (*spool)->Recover([&](const MessageMeta& meta, std::vector<RecipientRecord> r) {
    ids.push_back(meta.id);
    counts.push_back(r.size());
    EXPECT_EQ(meta.created, absl::FromUnixMicros(1700000000123456));
  });
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(ids, (std::vector<MessageId>{1, 2}));
  EXPECT_EQ(counts, (std::vector<size_t>{2, 1}));
  EXPECT_EQ(stats->messages, 2u);
  EXPECT_EQ(stats->recipients, 3u);
  EXPECT_EQ(stats->max_id, 2u);
}

TEST(Spool, DeletionAndOrphanCleanup) {
  const std::string path = TempPath("spool_delete");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  Spool::Batch batch = (*spool)->NewBatch();
  batch.PutMessage(Meta(10, 2), "ten", Recipients(2));
  batch.PutMessage(Meta(11, 1), "eleven", Recipients(1));
  batch.PutMessage(Meta(12, 1), "twelve", Recipients(1));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());

  batch.Clear();
  batch.DeleteRecipient(10, 0, absl::InfinitePast());  // one of two recipients done
  batch.DeleteRecipient(11, 0, absl::InfinitePast());  // last one done, message left: orphan
  batch.DeleteMessage(12);  // message gone, recipient left: orphan recipient
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());

  std::vector<MessageId> ids;
  auto stats = (*spool)->Recover([&](const MessageMeta& meta, std::vector<RecipientRecord> r) {
    ids.push_back(meta.id);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].index, 1u);
  });
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(ids, std::vector<MessageId>{10});
  EXPECT_EQ(stats->orphans_removed, 2u);
  // The orphans are really gone.
  EXPECT_EQ((*spool)->ReadMeta(11).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*spool)->ReadRecipients(12)->empty());
  stats = (*spool)->Recover([](const MessageMeta&, std::vector<RecipientRecord>) {});
  EXPECT_EQ(stats->orphans_removed, 0u);
}

TEST(Spool, FlushMovesMemtablesToFilesAndDeletedMessagesLeaveNoTrace) {
  const std::string path = TempPath("spool_flush");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok()) << spool.status();
  const std::string body(64 * 1024, 'x');
  // Stored and removed before any flush: they cancel out in the memtable.
  Spool::Batch batch = (*spool)->NewBatch();
  for (MessageId id = 1; id <= 50; ++id) batch.PutMessage(Meta(id, 1), body, Recipients(1));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  batch.Clear();
  for (MessageId id = 1; id <= 50; ++id) {
    batch.DeleteRecipient(id, 0, absl::InfinitePast());
    batch.DeleteMessage(id);
  }
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  // One message stays queued.
  batch.Clear();
  batch.PutMessage(Meta(51, 1), body, Recipients(1));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());

  const uint64_t before = (*spool)->MemtableBytes();
  EXPECT_GT(before, 50u * body.size());
  EXPECT_EQ((*spool)->DiskBytes(), 0u);
  ASSERT_TRUE((*spool)->FlushMemtables(/*wait=*/true).ok());
  EXPECT_LT((*spool)->MemtableBytes(), before / 10);
  // Only the queued message's body reached a file, not the fifty removed ones.
  EXPECT_GE((*spool)->DiskBytes(), body.size());
  EXPECT_LT((*spool)->DiskBytes(), 5 * body.size());
  EXPECT_EQ(*(*spool)->ReadBody(51), body);
  EXPECT_EQ((*spool)->ReadBody(7).status().code(), absl::StatusCode::kNotFound);
}

TEST(Spool, RecipientStateUpdates) {
  const std::string path = TempPath("spool_update");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  Spool::Batch batch = (*spool)->NewBatch();
  batch.PutMessage(Meta(5, 1), "body", Recipients(1));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  RecipientRecord r = Recipients(1)[0];
  r.attempts = 2;
  r.next_due = absl::FromUnixSeconds(2000000000);
  r.last_response = "421 busy";
  batch.Clear();
  batch.UpdateRecipient(5, r, absl::InfinitePast());
  ASSERT_TRUE((*spool)->Write(&batch, false).ok());
  auto records = (*spool)->ReadRecipients(5);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0], r);
}

TEST(Spool, StateRecordsSurviveAReopenAndKeepToTheirKind) {
  const std::string path = TempPath("spool_state");
  {
    auto spool = Spool::Open(path);
    ASSERT_TRUE(spool.ok()) << spool.status();
    ASSERT_TRUE((*spool)->PutState("suspension", "b", "second", /*sync=*/true).ok());
    ASSERT_TRUE((*spool)->PutState("suspension", "a", "first", /*sync=*/true).ok());
    ASSERT_TRUE((*spool)->PutState("suspension", "c", "gone", /*sync=*/true).ok());
    ASSERT_TRUE((*spool)->PutState("warmup", "a", "other kind", /*sync=*/true).ok());
    ASSERT_TRUE((*spool)->DeleteState("suspension", "c", /*sync=*/true).ok());
    // Messages and their counts are not state.
    auto batch = (*spool)->NewBatch();
    batch.PutMessage(Meta(1, 1), "body", Recipients(1));
    batch.SetRecipientCount(1);
    ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  }
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok()) << spool.status();
  auto state = (*spool)->ReadState("suspension");
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->size(), 2u);
  EXPECT_EQ((*state)[0], std::make_pair(std::string("a"), std::string("first")));
  EXPECT_EQ((*state)[1], std::make_pair(std::string("b"), std::string("second")));
  auto warmup = (*spool)->ReadState("warmup");
  ASSERT_TRUE(warmup.ok());
  ASSERT_EQ(warmup->size(), 1u);
  EXPECT_EQ((*warmup)[0].second, "other kind");
  EXPECT_EQ(*(*spool)->RecipientCount(), 1u);
}

TEST(Spool, SecondOpenIsRefusedNamingThePath) {
  const std::string path = TempPath("spool_locked");
  auto first = Spool::Open(path);
  ASSERT_TRUE(first.ok());
  auto second = Spool::Open(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(path), absl::string_view::npos) << second.status();
}

TEST(Spool, ASpoolFromBeforeTheSuppressionListGainsItAndTheWebhookQueues) {
  const std::string path = TempPath("spool_old_families");
  {
    // The column families of a spool written before the suppression list existed.
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "messages", "bodies", "recipients", "schedule"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok()) << spool.status();
  auto missing = (*spool)->GetSuppression("a@example.com");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE((*spool)->PutSuppression("a@example.com", "v", /*sync=*/true).ok());
  auto found = (*spool)->GetSuppression("a@example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(**found, "v");
  auto scanned = (*spool)->ScanSuppressions("a@", "", 10);
  ASSERT_TRUE(scanned.ok());
  ASSERT_EQ(scanned->size(), 1u);
  EXPECT_TRUE((*spool)->ScanSuppressions("b@", "", 10)->empty());
  ASSERT_TRUE((*spool)->DeleteSuppression("a@example.com", /*sync=*/true).ok());
  EXPECT_FALSE((*spool)->GetSuppression("a@example.com")->has_value());
  EXPECT_TRUE((*spool)->WriteWebhookRecords({{"k", "v"}}, {}).ok());
}

// The webhook queues: records in key order under their webhook's prefix, the last key found
// for the next sequence number, and removal together with new records in one write.
TEST(Spool, WebhookRecordsAreQueuedInOrderPerPrefix) {
  auto spool = Spool::Open(TempPath("spool_webhooks"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  auto key = [](const std::string& name, uint64_t seq) {
    std::string k = name + std::string(1, '\0');
    PutFixed64BE(&k, seq);
    return k;
  };
  const std::string a(std::string("a") + '\0'), b(std::string("b") + '\0');
  EXPECT_FALSE((*spool)->LastWebhookKey(a)->has_value());
  ASSERT_TRUE((*spool)
                  ->WriteWebhookRecords({{key("a", 2), "r2"},
                                         {key("a", 1), "r1"},
                                         {key("b", 7), "other"},
                                         {key("a", 256), "r256"}},
                                        {})
                  .ok());
  EXPECT_EQ(**(*spool)->LastWebhookKey(a), key("a", 256));
  EXPECT_EQ(**(*spool)->LastWebhookKey(b), key("b", 7));
  auto first = (*spool)->ScanWebhookRecords(a, "", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].second, "r1");
  EXPECT_EQ((*first)[1].second, "r2");
  ASSERT_TRUE(
      (*spool)->WriteWebhookRecords({{key("a", 257), "r257"}}, {key("a", 1), key("a", 2)}).ok());
  auto rest = (*spool)->ScanWebhookRecords(a, "", 10);
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].second, "r256");
  EXPECT_EQ((*rest)[1].second, "r257");
}

TEST(Spool, NewerSchemaIsRefused) {
  const std::string path = TempPath("spool_schema");
  ASSERT_TRUE(Spool::Open(path).ok());
  {
    // Write a future schema version with RocksDB directly.
    rocksdb::Options options;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : kSpoolColumnFamilies) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "volley.schema", "99").ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  auto spool = Spool::Open(path);
  ASSERT_FALSE(spool.ok());
  EXPECT_EQ(spool.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(spool.status().message().find(path), absl::string_view::npos);
  EXPECT_NE(spool.status().message().find("99"), absl::string_view::npos);
}

TEST(Spool, TagsAreStoredAndRecordsWithoutThemStillRead) {
  const std::string path = TempPath("spool_tags");
  MessageMeta tagged = Meta(1, 1);
  tagged.tenant = "acme";
  tagged.campaign = "spring-2026";
  tagged.priority = 8;
  tagged.metadata = R"({"user_id":"u-1"})";
  // Message 2 is first stored with tags, then rewritten as an old record without them: what
  // reads back must come from the old record.
  const MessageMeta old = Meta(2, 1);
  MessageMeta overwritten = old;
  overwritten.tenant = "gone";
  overwritten.campaign = "gone";
  overwritten.priority = 1;
  overwritten.metadata = R"({"gone":true})";
  {
    auto spool = Spool::Open(path);
    ASSERT_TRUE(spool.ok()) << spool.status();
    Spool::Batch batch = (*spool)->NewBatch();
    batch.PutMessage(tagged, "one", Recipients(1));
    batch.PutMessage(overwritten, "two", Recipients(1));
    ASSERT_TRUE((*spool)->Write(&batch, /*sync=*/true).ok());
  }
  {
    // Rewrite message 2 as a volleyd from before the tags wrote it: format byte 1, the record
    // ending after the DSN ENVID. Today's encoding of a message without tags is that plus ""
    // (0x00), "" (0x00), priority 5 (0x05) and no metadata "" (0x00).
    std::string v1 = EncodeMeta(old);
    ASSERT_EQ(v1.substr(v1.size() - 4), std::string("\0\0\x05\0", 4));
    v1.resize(v1.size() - 4);
    v1[0] = '\x01';
    rocksdb::Options options;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : kSpoolColumnFamilies) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], EncodeMessageKey(2), v1).ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok()) << spool.status();
  EXPECT_EQ(*(*spool)->ReadMeta(1), tagged);
  EXPECT_EQ(*(*spool)->ReadMeta(2), old);
  EXPECT_EQ(old.priority, kDefaultPriority);
  EXPECT_EQ(old.tenant, "");
  std::vector<MessageMeta> recovered;
  auto stats = (*spool)->Recover(
      [&](const MessageMeta& meta, std::vector<RecipientRecord>) { recovered.push_back(meta); });
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->orphans_removed, 0u);
  ASSERT_EQ(recovered.size(), 2u);
  EXPECT_EQ(recovered[0], tagged);
  EXPECT_EQ(recovered[1], old);
}

TEST(Spool, UnopenablePathIsAnError) {
  // Not even root can create directories under /proc.
  auto spool = Spool::Open("/proc/volley-cannot-exist/spool");
  ASSERT_FALSE(spool.ok());
  EXPECT_NE(spool.status().message().find("/proc/volley-cannot-exist/spool"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace volley::queue

namespace volley::queue {
namespace {

ScheduleKey Start() { return ScheduleKey{}; }

std::vector<std::pair<MessageId, uint32_t>> Ids(const std::vector<DueRecipient>& due) {
  std::vector<std::pair<MessageId, uint32_t>> out;
  for (const DueRecipient& d : due) out.emplace_back(d.key.id, d.key.index);
  return out;
}

TEST(SpoolIndex, ReadsWhatIsDueInOrderWithoutTheSkippedOnes) {
  auto spool = Spool::Open(TempPath("index_order"));
  ASSERT_TRUE(spool.ok());
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  Spool::Batch batch = (*spool)->NewBatch();
  std::vector<RecipientRecord> later = Recipients(2);
  later[0].next_due = t0 + absl::Minutes(10);
  later[1].next_due = t0 + absl::Minutes(1);
  batch.PutMessage(Meta(2, 2), "later", later);
  batch.PutMessage(Meta(1, 2), "now", Recipients(2));  // due at once
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());

  ScheduleKey next;
  auto due = (*spool)->ReadDue(
      Start(), t0 + absl::Minutes(5), 100, [](MessageId, uint32_t) { return false; }, &next);
  ASSERT_TRUE(due.ok()) << due.status();
  // Due at once first (in id order), then by due time; the 10-minute one is past max_due.
  EXPECT_EQ(Ids(*due), (std::vector<std::pair<MessageId, uint32_t>>{{1, 0}, {1, 1}, {2, 1}}));
  EXPECT_EQ((*due)[0].meta.sender, "sender@example.com");
  EXPECT_EQ((*due)[2].record.next_due, t0 + absl::Minutes(1));

  // From the cursor on, only what came due since.
  auto more = (*spool)->ReadDue(
      next, t0 + absl::Hours(1), 100, [](MessageId, uint32_t) { return false; }, &next);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(Ids(*more), (std::vector<std::pair<MessageId, uint32_t>>{{2, 0}}));

  // Skipping (recipients held in memory) and the limit.
  auto skipped = (*spool)->ReadDue(
      Start(), t0 + absl::Hours(1), 2, [](MessageId id, uint32_t) { return id == 1; }, &next);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(Ids(*skipped), (std::vector<std::pair<MessageId, uint32_t>>{{2, 1}, {2, 0}}));
}

TEST(SpoolIndex, UpdatesAndDeletionsMoveTheEntries) {
  auto spool = Spool::Open(TempPath("index_update"));
  ASSERT_TRUE(spool.ok());
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  Spool::Batch batch = (*spool)->NewBatch();
  batch.PutMessage(Meta(7, 2), "body", Recipients(2));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  RecipientRecord retry = Recipients(2)[0];
  retry.attempts = 1;
  retry.next_due = t0 + absl::Hours(1);
  batch.Clear();
  batch.UpdateRecipient(7, retry, absl::InfinitePast());
  batch.DeleteRecipient(7, 1, absl::InfinitePast());
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  ScheduleKey next;
  auto now = (*spool)->ReadDue(
      Start(), t0, 100, [](MessageId, uint32_t) { return false; }, &next);
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE(now->empty()) << "nothing is due now";
  auto later = (*spool)->ReadDue(
      Start(), t0 + absl::Hours(2), 100, [](MessageId, uint32_t) { return false; }, &next);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].record.attempts, 1u);
  EXPECT_EQ(*(*spool)->CountRecipients(7), 1u);
}

TEST(SpoolIndex, StaleEntriesAreRemovedOnTheWay) {
  auto spool = Spool::Open(TempPath("index_stale"));
  ASSERT_TRUE(spool.ok());
  Spool::Batch batch = (*spool)->NewBatch();
  batch.PutMessage(Meta(3, 1), "body", Recipients(1));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  // A crash between the recipient's removal and its index entry's: simulate with a delete of
  // the record only (moving the index entry to a due time it does not have).
  batch.Clear();
  batch.DeleteRecipient(3, 0, absl::FromUnixSeconds(1));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  ScheduleKey next;
  auto due = (*spool)->ReadDue(
      Start(), absl::InfiniteFuture(), 100, [](MessageId, uint32_t) { return false; }, &next);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->empty());
  // And it stays gone.
  due = (*spool)->ReadDue(
      Start(), absl::InfiniteFuture(), 100, [](MessageId, uint32_t) { return false; }, &next);
  EXPECT_TRUE(due->empty());
}

TEST(SpoolIndex, CountsAndMaxId) {
  const std::string path = TempPath("index_counts");
  {
    auto spool = Spool::Open(path);
    ASSERT_TRUE(spool.ok());
    EXPECT_EQ(*(*spool)->MaxMessageId(), 0u);
    Spool::Batch batch = (*spool)->NewBatch();
    batch.PutMessage(Meta(5, 3), "a", Recipients(3));
    batch.PutMessage(Meta(9, 1), "b", Recipients(1));
    ASSERT_TRUE((*spool)->Write(&batch, true).ok());
    EXPECT_EQ(*(*spool)->MaxMessageId(), 9u);
    // Never written: counted from the records, then kept.
    EXPECT_EQ(*(*spool)->RecipientCount(), 4u);
    batch.Clear();
    batch.SetRecipientCount(3);
    ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  }
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(*(*spool)->RecipientCount(), 3u) << "the kept count is used as it is";
}

TEST(SpoolIndex, RecoverRepairsTheIndexAndTheCount) {
  auto spool = Spool::Open(TempPath("index_repair"));
  ASSERT_TRUE(spool.ok());
  Spool::Batch batch = (*spool)->NewBatch();
  batch.PutMessage(Meta(4, 2), "body", Recipients(2));
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  // Recipient 1 is removed with the wrong due time: its real index entry stays behind, stray;
  // and the kept count is wrong.
  batch.Clear();
  batch.DeleteRecipient(4, 1, absl::FromUnixSeconds(5));
  batch.SetRecipientCount(42);
  ASSERT_TRUE((*spool)->Write(&batch, true).ok());
  auto stats = (*spool)->Recover([](const MessageMeta&, std::vector<RecipientRecord>) {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->recipients, 1u);
  EXPECT_EQ(stats->index_repaired, 1u);
  EXPECT_EQ(*(*spool)->RecipientCount(), 1u);
  ScheduleKey next;
  auto due = (*spool)->ReadDue(
      Start(), absl::InfiniteFuture(), 100, [](MessageId, uint32_t) { return false; }, &next);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(Ids(*due), (std::vector<std::pair<MessageId, uint32_t>>{{4, 0}}));
  stats = (*spool)->Recover([](const MessageMeta&, std::vector<RecipientRecord>) {});
  EXPECT_EQ(stats->index_repaired, 0u);
}

}  // namespace
}  // namespace volley::queue
