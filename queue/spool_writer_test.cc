#include "queue/spool_writer.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::queue {
namespace {

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir ? dir : "/tmp", "/", name);
  std::filesystem::remove_all(path);
  return path;
}

MessageMeta Meta(MessageId id, uint32_t n) {
  MessageMeta meta;
  meta.id = id;
  meta.sender = "s@example.com";
  meta.created = absl::Now();
  meta.size = 4;
  meta.num_recipients = n;
  return meta;
}

std::vector<RecipientRecord> Recipients(uint32_t n) {
  std::vector<RecipientRecord> out(n);
  for (uint32_t i = 0; i < n; ++i) {
    out[i].index = i;
    out[i].address = absl::StrCat("r", i, "@example.org");
  }
  return out;
}

absl::Status InsertAndWait(SpoolWriter& writer, MessageId id, uint32_t n) {
  std::promise<absl::Status> done;
  auto future = done.get_future();
  writer.Insert(Meta(id, n), std::make_shared<const std::string>("body"), Recipients(n),
                [&done](absl::Status s) { done.set_value(s); });
  return future.get();
}

TEST(SpoolWriter, InsertIsDurableWhenDoneRuns) {
  const std::string path = TempPath("writer_insert");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  ASSERT_TRUE(InsertAndWait(writer, 1, 2).ok());
  // The completion ran after the commit: the message is readable now.
  EXPECT_EQ(*(*spool)->ReadBody(1), "body");
  EXPECT_EQ(writer.tracked_messages(), 1u);
  EXPECT_GE(writer.stats().synced_commits, 1u);
}

TEST(SpoolWriter, MessageIsDeletedWithItsLastRecipient) {
  const std::string path = TempPath("writer_delete");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  ASSERT_TRUE(InsertAndWait(writer, 1, 3).ok());
  writer.RecipientDone(1, 0);
  writer.RecipientDone(1, 2);
  writer.Flush();
  EXPECT_TRUE((*spool)->ReadBody(1).ok());
  EXPECT_EQ((*spool)->ReadRecipients(1)->size(), 1u);
  writer.RecipientDone(1, 1);
  writer.Flush();
  EXPECT_EQ((*spool)->ReadBody(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*spool)->ReadMeta(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*spool)->ReadRecipients(1)->empty());
  EXPECT_EQ(writer.tracked_messages(), 0u);
}

TEST(SpoolWriter, RescheduleIsPersisted) {
  const std::string path = TempPath("writer_resched");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  ASSERT_TRUE(InsertAndWait(writer, 9, 1).ok());
  RecipientRecord r = Recipients(1)[0];
  r.attempts = 1;
  r.next_due = absl::FromUnixSeconds(1900000000);
  r.last_response = "451 4.3.0 later";
  writer.Reschedule(9, r);
  writer.Flush();
  auto records = (*spool)->ReadRecipients(9);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0], r);
}

TEST(SpoolWriter, ConcurrentInsertsAreGroupCommitted) {
  const std::string path = TempPath("writer_group");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (InsertAndWait(writer, static_cast<MessageId>(t * kPerThread + i + 1), 1).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  SpoolWriterStats stats = writer.stats();
  EXPECT_EQ(stats.messages, uint64_t{kThreads * kPerThread});
  // Eight writers each waiting for their own commit must share commits.
  EXPECT_LT(stats.synced_commits, stats.messages);
  uint64_t recovered = 0;
  ASSERT_TRUE((*spool)
                  ->Recover([&](const MessageMeta&, std::vector<RecipientRecord>) { ++recovered; })
                  .ok());
  EXPECT_EQ(recovered, uint64_t{kThreads * kPerThread});
}

TEST(SpoolWriter, TrackedRecoveredMessagesAreDeletedToo) {
  const std::string path = TempPath("writer_track");
  {
    auto spool = Spool::Open(path);
    ASSERT_TRUE(spool.ok());
    SpoolWriter writer(spool->get());
    ASSERT_TRUE(InsertAndWait(writer, 3, 2).ok());
  }
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  std::vector<std::pair<MessageId, uint32_t>> found;
  ASSERT_TRUE((*spool)
                  ->Recover([&](const MessageMeta& m, std::vector<RecipientRecord> r) {
                    found.emplace_back(m.id, r.size());
                  })
                  .ok());
  ASSERT_EQ(found.size(), 1u);
  writer.Track(found[0].first, found[0].second);
  writer.RecipientDone(3, 0);
  writer.RecipientDone(3, 1);
  writer.Flush();
  EXPECT_EQ((*spool)->ReadMeta(3).status().code(), absl::StatusCode::kNotFound);
}

TEST(SpoolWriter, AfterStopInsertsFailCleanly) {
  const std::string path = TempPath("writer_stop");
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  writer.Stop();
  absl::Status status = InsertAndWait(writer, 1, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*spool)->ReadMeta(1).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace volley::queue
