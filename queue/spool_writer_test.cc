#include "queue/spool_writer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "queue/test_temp_path.h"

namespace volley::queue {
namespace {

MessageMeta Meta(MessageId id, uint32_t n) {
  MessageMeta meta;
  meta.id = id;
  meta.sender = "s@example.com";
  meta.created = absl::FromUnixSeconds(1800000000);
  meta.size = 4;
  meta.num_recipients = n;
  return meta;
}

std::vector<RecipientRecord> Recipients(uint32_t n, absl::Time due = absl::InfinitePast()) {
  std::vector<RecipientRecord> out(n);
  for (uint32_t i = 0; i < n; ++i) {
    out[i].index = i;
    out[i].address = absl::StrCat("r", i, "@example.org");
    out[i].next_due = due;
  }
  return out;
}

absl::Status InsertAndWait(SpoolWriter& writer, MessageId id, uint32_t n,
                           absl::Time due = absl::InfinitePast()) {
  std::promise<absl::Status> done;
  auto future = done.get_future();
  writer.Insert(Meta(id, n), std::make_shared<const std::string>("body"), Recipients(n, due),
                [&done](absl::Status s) { done.set_value(s); });
  return future.get();
}

// Collects what the loader hands over.
struct Loaded {
  std::mutex mutex;
  std::condition_variable grew;
  std::vector<DueRecipient> all;

  size_t size() {
    std::lock_guard<std::mutex> lock(mutex);
    return all.size();
  }
  // A copy: the writer thread may append meanwhile.
  std::vector<DueRecipient> Snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return all;
  }
  bool WaitFor(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock<std::mutex> lock(mutex);
    return grew.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                         [&] { return all.size() >= n; });
  }
  SpoolWriter::LoadFn Fn() {
    return [this](std::vector<DueRecipient> due) {
      std::lock_guard<std::mutex> lock(mutex);
      for (DueRecipient& d : due) all.push_back(std::move(d));
      grew.notify_all();
    };
  }
};

// Waits until `done` holds, for the writer's counters, which nothing signals; false after
// `timeout`.
bool WaitUntil(absl::FunctionRef<bool()> done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// Moves the loader's clock on by `interval` and waits until the loader has looked at the index
// again (a pass is counted once what it read was handed over). A pass that began after the
// last one counted before the call is complete when this returns: the point at which to check
// that nothing more was loaded.
void LookAgain(SpoolWriter& writer, SimulatedClock& clock, absl::Duration interval) {
  const uint64_t passes = writer.stats().load_passes;
  clock.Advance(interval);
  ASSERT_TRUE(WaitUntil([&] { return writer.stats().load_passes > passes; }))
      << "the loader did not look again";
}

TEST(SpoolWriter, InsertIsDurableWhenDoneRuns) {
  auto spool = Spool::Open(TempPath("writer_insert"));
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  ASSERT_TRUE(InsertAndWait(writer, 1, 2).ok());
  // The completion ran after the commit: the message is readable now.
  EXPECT_EQ(*(*spool)->ReadBody(1), "body");
  EXPECT_EQ(writer.queued_recipients(), 2u);
  EXPECT_EQ(writer.resident_recipients(), 2u);
  EXPECT_GE(writer.stats().synced_commits, 1u);
}

TEST(SpoolWriter, MessageIsDeletedWithItsLastRecipient) {
  auto spool = Spool::Open(TempPath("writer_delete"));
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  ASSERT_TRUE(InsertAndWait(writer, 1, 3).ok());
  writer.RecipientDone(1, 0, absl::InfinitePast());
  writer.RecipientDone(1, 2, absl::InfinitePast());
  writer.Flush();
  EXPECT_TRUE((*spool)->ReadBody(1).ok());
  EXPECT_EQ(*(*spool)->CountRecipients(1), 1u);
  writer.RecipientDone(1, 1, absl::InfinitePast());
  writer.Flush();
  EXPECT_EQ((*spool)->ReadBody(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*spool)->ReadMeta(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(writer.queued_recipients(), 0u);
  EXPECT_EQ(*(*spool)->RecipientCount(), 0u);
  EXPECT_EQ(writer.resident_recipients(), 0u);
}

// A delivery notice finishes the recipients it reports in its own write: when it is durable,
// they are gone (the reported message with its last one), and never one without the other.
TEST(SpoolWriter, AnInsertRemovesTheRecipientsItCompletesInTheSameWrite) {
  auto spool = Spool::Open(TempPath("writer_completes"));
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  ASSERT_TRUE(InsertAndWait(writer, 1, 3).ok());
  const uint64_t commits = writer.stats().commits;
  std::promise<absl::Status> done;
  MessageMeta notice = Meta(2, 1);
  notice.sender = "";
  writer.Insert(
      notice, std::make_shared<const std::string>("report"), Recipients(1),
      [&done](absl::Status s) { done.set_value(s); }, nullptr,
      {RecipientRef{1, 0, absl::InfinitePast()}, RecipientRef{1, 2, absl::InfinitePast()}});
  ASSERT_TRUE(done.get_future().get().ok());
  EXPECT_EQ(writer.stats().commits, commits + 1) << "one write";
  EXPECT_EQ(*(*spool)->ReadBody(2), "report");
  ASSERT_EQ((*spool)->ReadRecipients(1)->size(), 1u);
  EXPECT_EQ((*spool)->ReadRecipients(1)->front().index, 1u);
  EXPECT_EQ(writer.queued_recipients(), 2u);  // 1 left of message 1, the notice's one
  EXPECT_EQ(writer.resident_recipients(), 2u);

  // The last recipient completed by a second notice takes message 1 with it.
  std::promise<absl::Status> second;
  writer.Insert(Meta(3, 1), std::make_shared<const std::string>("report 2"), Recipients(1),
                [&second](absl::Status s) { second.set_value(s); }, nullptr,
                {RecipientRef{1, 1, absl::InfinitePast()}});
  ASSERT_TRUE(second.get_future().get().ok());
  EXPECT_EQ((*spool)->ReadMeta(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*spool)->ReadBody(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*(*spool)->RecipientCount(), 2u);
}

TEST(SpoolWriter, AfterARestartTheLastRecipientStillTakesTheMessage) {
  const std::string path = TempPath("writer_restart");
  {
    auto spool = Spool::Open(path);
    ASSERT_TRUE(spool.ok());
    SpoolWriter writer(spool->get());
    ASSERT_TRUE(InsertAndWait(writer, 3, 2).ok());
    writer.RecipientDone(3, 0, absl::InfinitePast());
  }
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  EXPECT_EQ(writer.queued_recipients(), 1u) << "the count survives the restart";
  // The writer has never seen message 3 in this run: it counts its recipients in the spool.
  writer.RecipientDone(3, 1, absl::InfinitePast());
  writer.Flush();
  EXPECT_EQ((*spool)->ReadMeta(3).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*spool)->ReadBody(3).status().code(), absl::StatusCode::kNotFound);
}

TEST(SpoolWriter, RescheduleIsPersistedAndMovesTheIndexEntry) {
  auto spool = Spool::Open(TempPath("writer_resched"));
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  ASSERT_TRUE(InsertAndWait(writer, 9, 1).ok());
  RecipientRecord r = Recipients(1)[0];
  r.attempts = 1;
  r.next_due = absl::FromUnixSeconds(1900000000);
  r.last_response = "451 4.3.0 later";
  writer.Reschedule(9, r, absl::InfinitePast(), /*keep_in_memory=*/false);
  writer.Flush();
  EXPECT_EQ((*spool)->ReadRecipients(9)->front(), r);
  EXPECT_EQ(writer.resident_recipients(), 0u) << "let go by the engine";
  ScheduleKey next;
  auto due = (*spool)->ReadDue(
      ScheduleKey{}, absl::FromUnixSeconds(1900000001), 10,
      [](MessageId, uint32_t) { return false; }, &next);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].key.due_us, int64_t{1900000000} * 1000000);
}

TEST(SpoolWriter, ConcurrentInsertsAreGroupCommitted) {
  auto spool = Spool::Open(TempPath("writer_group"));
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
  EXPECT_EQ(writer.queued_recipients(), uint64_t{kThreads * kPerThread});
}

TEST(SpoolWriter, LoaderReadsWhatComesDueWithinTheBudgetOnce) {
  const std::string path = TempPath("writer_loader");
  SimulatedClock clock(absl::FromUnixSeconds(1800000000));
  {
    auto spool = Spool::Open(path);
    ASSERT_TRUE(spool.ok());
    SpoolWriter writer(spool->get(), nullptr, clock);
    for (MessageId id = 1; id <= 30; ++id) ASSERT_TRUE(InsertAndWait(writer, id, 1).ok());
    // Two for later.
    ASSERT_TRUE(InsertAndWait(writer, 100, 1, clock.Now() + absl::Minutes(10)).ok());
    ASSERT_TRUE(InsertAndWait(writer, 101, 1, clock.Now() + absl::Hours(2)).ok());
  }
  auto spool = Spool::Open(path);
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get(), nullptr, clock);
  EXPECT_EQ(writer.queued_recipients(), 32u);
  Loaded loaded;
  LoaderOptions options;
  options.budget = 20;
  options.horizon = absl::Minutes(1);
  options.interval = absl::Milliseconds(10);
  writer.StartLoader(options, loaded.Fn());
  ASSERT_TRUE(WaitUntil([&] { return writer.stats().loaded >= 20; }));
  // The budget is full: a later look at the index reads nothing more.
  LookAgain(writer, clock, options.interval);
  EXPECT_EQ(loaded.size(), 20u) << "no more than the budget in memory";
  EXPECT_EQ(writer.stats().loaded, 20u);
  EXPECT_EQ(writer.resident_recipients(), 20u);
  // Delivering ten frees room for the other ten due now, and only them.
  const std::vector<DueRecipient> first = loaded.Snapshot();
  ASSERT_EQ(first.size(), 20u);
  for (size_t i = 0; i < 10; ++i) {
    writer.RecipientDone(first[i].key.id, first[i].key.index, first[i].record.next_due);
  }
  ASSERT_TRUE(WaitUntil([&] { return writer.stats().loaded >= 30; }));
  LookAgain(writer, clock, options.interval);
  EXPECT_EQ(loaded.size(), 30u);
  EXPECT_EQ(writer.stats().loaded, 30u);
  EXPECT_EQ(writer.resident_recipients(), 20u);
  // The rest is delivered; nine minutes later the 10-minute one is within the horizon, the
  // 2-hour one is not.
  const std::vector<DueRecipient> all = loaded.Snapshot();
  ASSERT_EQ(all.size(), 30u);
  for (size_t i = 10; i < 30; ++i) {
    writer.RecipientDone(all[i].key.id, all[i].key.index, all[i].record.next_due);
  }
  writer.Flush();
  EXPECT_EQ(writer.resident_recipients(), 0u);
  clock.Advance(absl::Minutes(9) + absl::Seconds(30));
  ASSERT_TRUE(WaitUntil([&] { return writer.stats().loaded >= 31; }));
  LookAgain(writer, clock, options.interval);
  const std::vector<DueRecipient> last = loaded.Snapshot();
  ASSERT_EQ(last.size(), 31u);
  EXPECT_EQ(writer.stats().loaded, 31u);
  EXPECT_EQ(last.back().key.id, 100u);
  std::vector<MessageId> ids;
  for (const DueRecipient& d : last) ids.push_back(d.key.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "each loaded once";
}

TEST(SpoolWriter, LetGoRecipientsComeBackWhenDueAndKeptOnesDoNot) {
  SimulatedClock clock(absl::FromUnixSeconds(1800000000));
  auto spool = Spool::Open(TempPath("writer_letgo"));
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get(), nullptr, clock);
  ASSERT_TRUE(InsertAndWait(writer, 1, 2).ok());
  Loaded loaded;
  LoaderOptions options;
  options.horizon = absl::Minutes(1);
  options.interval = absl::Milliseconds(10);
  writer.StartLoader(options, loaded.Fn());
  // The loader's first look, at its start, finds both in memory.
  ASSERT_TRUE(WaitUntil([&] { return writer.stats().load_passes >= 1; }));
  EXPECT_EQ(loaded.size(), 0u) << "both are in memory since the injection";
  // One retries in 30 s (kept), the other in 10 minutes (let go).
  RecipientRecord soon = Recipients(2)[0];
  soon.next_due = clock.Now() + absl::Seconds(30);
  RecipientRecord later = Recipients(2)[1];
  later.next_due = clock.Now() + absl::Minutes(10);
  writer.Reschedule(1, soon, absl::InfinitePast(), /*keep_in_memory=*/true);
  writer.Reschedule(1, later, absl::InfinitePast(), /*keep_in_memory=*/false);
  writer.Flush();
  EXPECT_EQ(writer.resident_recipients(), 1u);
  clock.Advance(absl::Minutes(10));
  ASSERT_TRUE(loaded.WaitFor(1));
  // Both are due now; the kept one must not come back, in this look or a later one.
  LookAgain(writer, clock, options.interval);
  const std::vector<DueRecipient> back = loaded.Snapshot();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(writer.stats().loaded, 1u);
  EXPECT_EQ(back[0].key.index, 1u);
  EXPECT_EQ(back[0].meta.sender, "s@example.com");
  EXPECT_EQ(writer.resident_recipients(), 2u);
}

TEST(SpoolWriter, AnIdleWriterFlushesItsMemtablesAndACleanStopToo) {
  auto spool = Spool::Open(TempPath("writer_idle_flush"));
  ASSERT_TRUE(spool.ok());
  auto body = std::make_shared<const std::string>(256 * 1024, 'b');
  {
    SpoolWriter writer(spool->get());
    for (MessageId id = 1; id <= 8; ++id) {
      std::promise<absl::Status> done;
      writer.Insert(Meta(id, 1), body, Recipients(1),
                    [&done](absl::Status s) { done.set_value(s); });
      ASSERT_TRUE(done.get_future().get().ok());
    }
    EXPECT_GT((*spool)->MemtableBytes(), 8u * body->size());
    EXPECT_EQ(writer.stats().idle_flushes, 0u);
    // Nothing written for a while (5 s): the writer flushes the memtables to files.
    ASSERT_TRUE(WaitUntil([&] { return writer.stats().idle_flushes >= 1; }, absl::Seconds(15)));
    EXPECT_EQ(writer.stats().idle_flushes, 1u);
    EXPECT_LT((*spool)->MemtableBytes(), 1u << 20);
    EXPECT_GE((*spool)->DiskBytes(), 8u * body->size());
    EXPECT_EQ(*(*spool)->ReadBody(8), *body);

    // A write after the flush, then a clean stop: flushed too.
    ASSERT_TRUE(InsertAndWait(writer, 9, 1).ok());
    EXPECT_GT((*spool)->MemtableBytes(), 0u);
    const uint64_t disk_before_stop = (*spool)->DiskBytes();
    writer.Stop();
    EXPECT_GT((*spool)->DiskBytes(), disk_before_stop);
  }
  EXPECT_EQ(*(*spool)->ReadBody(9), "body");
}

TEST(SpoolWriter, AfterStopInsertsFailCleanly) {
  auto spool = Spool::Open(TempPath("writer_stop"));
  ASSERT_TRUE(spool.ok());
  SpoolWriter writer(spool->get());
  writer.Stop();
  absl::Status status = InsertAndWait(writer, 1, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*spool)->ReadMeta(1).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace volley::queue
