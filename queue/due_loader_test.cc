#include "queue/due_loader.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/clock.h"
#include "gtest/gtest.h"
#include "queue/spool.h"
#include "queue/test_temp_path.h"

namespace volley::queue {
namespace {

// The test thread plays the writer thread: it writes to the spool and then tells the loader,
// as SpoolWriter does after each commit.

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

MessageMeta Meta(MessageId id, uint32_t n) {
  MessageMeta meta;
  meta.id = id;
  meta.sender = "s@example.com";
  meta.created = kStart;
  meta.size = 4;
  meta.num_recipients = n;
  return meta;
}

std::vector<RecipientRecord> Recipients(uint32_t n, absl::Time due) {
  std::vector<RecipientRecord> out(n);
  for (uint32_t i = 0; i < n; ++i) {
    out[i].index = i;
    out[i].address = absl::StrCat("r", i, "@example.org");
    out[i].next_due = due;
  }
  return out;
}

// Stores a message whose `n` recipients are due at `due` (InfinitePast: at once).
void Store(Spool& spool, MessageId id, uint32_t n, absl::Time due = absl::InfinitePast()) {
  Spool::Batch batch = spool.NewBatch();
  batch.PutMessage(Meta(id, n), "body", Recipients(n, due));
  ASSERT_TRUE(spool.Write(&batch, /*sync=*/false).ok());
}

// Writes a recipient's new state, as a reschedule does.
void Update(Spool& spool, MessageId id, const RecipientRecord& record, absl::Time old_due) {
  Spool::Batch batch = spool.NewBatch();
  batch.UpdateRecipient(id, record, old_due);
  ASSERT_TRUE(spool.Write(&batch, /*sync=*/false).ok());
}

// Removes a recipient, as a delivery does.
void Remove(Spool& spool, MessageId id, uint32_t index, absl::Time due) {
  Spool::Batch batch = spool.NewBatch();
  batch.DeleteRecipient(id, index, due);
  ASSERT_TRUE(spool.Write(&batch, /*sync=*/false).ok());
}

// What the loader hands over, batch by batch.
struct Collected {
  std::vector<std::vector<DueRecipient>> batches;

  DueLoader::LoadFn Fn() {
    return [this](std::vector<DueRecipient> due) { batches.push_back(std::move(due)); };
  }
  std::vector<MessageId> Ids() const {
    std::vector<MessageId> ids;
    for (const auto& batch : batches) {
      for (const DueRecipient& d : batch) ids.push_back(d.key.id);
    }
    return ids;
  }
};

std::vector<MessageId> Range(MessageId first, MessageId last) {
  std::vector<MessageId> ids;
  for (MessageId id = first; id <= last; ++id) ids.push_back(id);
  return ids;
}

LoaderOptions Options(size_t budget) {
  LoaderOptions options;
  options.budget = budget;
  options.horizon = absl::Minutes(1);
  options.interval = absl::Seconds(1);
  return options;
}

TEST(DueLoader, ReadsNoMoreThanTheBudgetAndMoreOnceRoomIsMade) {
  auto spool = Spool::Open(TempPath("loader_budget"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  for (MessageId id = 1; id <= 30; ++id) Store(**spool, id, 1);
  SimulatedClock clock(kStart);
  DueLoader loader(spool->get(), clock);
  Collected collected;
  loader.Start(Options(20), collected.Fn());

  loader.LoadDue();
  // Oldest due first; all are due at once, so in arrival order.
  EXPECT_EQ(collected.Ids(), Range(1, 20));
  EXPECT_EQ(loader.resident(), 20u);
  EXPECT_EQ(loader.resident_count(), 20u);
  // The budget is full: another look reads nothing.
  loader.LoadDue();
  EXPECT_EQ(collected.batches.size(), 1u);
  EXPECT_EQ(loader.stats().loaded, 20u);
  EXPECT_EQ(loader.stats().passes, 2u);

  // Ten delivered make room for the other ten, and only them.
  for (MessageId id = 1; id <= 10; ++id) {
    Remove(**spool, id, 0, absl::InfinitePast());
    loader.RemoveResident(id, 0);
  }
  EXPECT_EQ(loader.resident_count(), 10u);
  loader.LoadDue();
  ASSERT_EQ(collected.batches.size(), 2u);
  std::vector<MessageId> second;
  for (const DueRecipient& d : collected.batches[1]) second.push_back(d.key.id);
  EXPECT_EQ(second, Range(21, 30));
  EXPECT_EQ(loader.resident_count(), 20u);
  loader.LoadDue();
  EXPECT_EQ(collected.batches.size(), 2u) << "nothing more is queued";
  EXPECT_EQ(loader.stats().loaded, 30u);
}

TEST(DueLoader, ReadsOnlyWhatIsDueWithinTheHorizon) {
  auto spool = Spool::Open(TempPath("loader_horizon"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  Store(**spool, 1, 1, kStart + absl::Seconds(30));
  Store(**spool, 2, 1, kStart + absl::Minutes(10));
  Store(**spool, 3, 1, kStart + absl::Hours(2));
  SimulatedClock clock(kStart);
  DueLoader loader(spool->get(), clock);
  Collected collected;
  loader.Start(Options(100), collected.Fn());

  loader.LoadDue();
  EXPECT_EQ(collected.Ids(), std::vector<MessageId>{1});
  // Nine and a half minutes later the 10-minute one is within the horizon; the 2-hour one is
  // not.
  clock.Advance(absl::Minutes(9) + absl::Seconds(30));
  loader.LoadDue();
  EXPECT_EQ(collected.Ids(), (std::vector<MessageId>{1, 2}));
  clock.Advance(absl::Minutes(100));
  loader.LoadDue();
  EXPECT_EQ(collected.Ids(), (std::vector<MessageId>{1, 2})) << "still 10 minutes away";
  clock.Advance(absl::Minutes(10));
  loader.LoadDue();
  EXPECT_EQ(collected.Ids(), (std::vector<MessageId>{1, 2, 3}));
  EXPECT_EQ(loader.resident_count(), 3u);
}

TEST(DueLoader, ARescheduleBeyondTheHorizonLeavesMemoryAndIsReadBackWhenDue) {
  auto spool = Spool::Open(TempPath("loader_letgo"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  SimulatedClock clock(kStart);
  DueLoader loader(spool->get(), clock);
  Collected collected;
  loader.Start(Options(100), collected.Fn());
  // An injection: both recipients are in memory from the start.
  Store(**spool, 1, 2);
  loader.AddResident(1, Recipients(2, absl::InfinitePast()));
  EXPECT_EQ(loader.resident_count(), 2u);
  loader.LoadDue();
  EXPECT_TRUE(collected.batches.empty()) << "the engine holds both";

  // The second fails transiently and retries in ten minutes: the engine lets it go.
  RecipientRecord later = Recipients(2, absl::InfinitePast())[1];
  later.attempts = 1;
  later.next_due = kStart + absl::Minutes(10);
  later.last_response = "451 4.3.0 later";
  Update(**spool, 1, later, absl::InfinitePast());
  loader.LetGo(1, later.index, later.next_due);
  EXPECT_EQ(loader.resident_count(), 1u);
  loader.LoadDue();
  EXPECT_TRUE(collected.batches.empty()) << "not due within the horizon yet";

  clock.Advance(absl::Minutes(9) + absl::Seconds(30));
  loader.LoadDue();
  ASSERT_EQ(collected.batches.size(), 1u);
  ASSERT_EQ(collected.batches[0].size(), 1u) << "the first is still held by the engine";
  const DueRecipient& back = collected.batches[0][0];
  EXPECT_EQ(back.key.id, 1u);
  EXPECT_EQ(back.record, later);
  EXPECT_EQ(back.meta.sender, "s@example.com");
  EXPECT_EQ(loader.resident_count(), 2u);
}

TEST(DueLoader, ALetGoRecipientDueBeforeTheCursorIsStillFound) {
  auto spool = Spool::Open(TempPath("loader_cursor"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  Store(**spool, 1, 1);
  Store(**spool, 2, 1, kStart + absl::Seconds(50));
  SimulatedClock clock(kStart);
  DueLoader loader(spool->get(), clock);
  Collected collected;
  loader.Start(Options(100), collected.Fn());
  loader.LoadDue();
  ASSERT_EQ(collected.Ids(), (std::vector<MessageId>{1, 2}));

  // The index has read past 50 s; the first now retries at 20 s and is let go.
  RecipientRecord retry = Recipients(1, kStart + absl::Seconds(20))[0];
  retry.attempts = 1;
  Update(**spool, 1, retry, absl::InfinitePast());
  loader.LetGo(1, 0, retry.next_due);
  clock.Advance(absl::Seconds(30));
  loader.LoadDue();
  EXPECT_EQ(collected.Ids(), (std::vector<MessageId>{1, 2, 1}));
  EXPECT_EQ(collected.batches.back()[0].record.attempts, 1u);
}

TEST(DueLoader, TicksReadWhenAskedAndWhenTheIntervalHasPassed) {
  auto spool = Spool::Open(TempPath("loader_tick"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  Store(**spool, 1, 1);
  SimulatedClock clock(kStart);
  DueLoader loader(spool->get(), clock);
  Collected collected;
  loader.Tick(/*requested=*/true);
  EXPECT_EQ(loader.stats().passes, 0u) << "not started";
  loader.Start(Options(100), collected.Fn());
  loader.Tick(/*requested=*/true);
  EXPECT_EQ(collected.Ids(), std::vector<MessageId>{1});

  // Queued since: read once the interval has passed on the loader's clock, not before.
  Store(**spool, 2, 1);
  loader.Tick(/*requested=*/false);
  EXPECT_EQ(loader.stats().passes, 1u);
  EXPECT_EQ(collected.Ids(), std::vector<MessageId>{1});
  clock.Advance(absl::Seconds(1));
  loader.Tick(/*requested=*/false);
  EXPECT_EQ(loader.stats().passes, 2u);
  EXPECT_EQ(collected.Ids(), (std::vector<MessageId>{1, 2}));
}

TEST(DueLoader, CountsResidentRecipients) {
  auto spool = Spool::Open(TempPath("loader_count"));
  ASSERT_TRUE(spool.ok()) << spool.status();
  SimulatedClock clock(kStart);
  DueLoader loader(spool->get(), clock);
  loader.AddResident(1, Recipients(3, absl::InfinitePast()));
  loader.AddResident(2, Recipients(2, absl::InfinitePast()));
  EXPECT_EQ(loader.resident_count(), 5u);
  loader.AddResident(2, Recipients(2, absl::InfinitePast()));
  EXPECT_EQ(loader.resident_count(), 5u) << "a set: each recipient once";
  loader.RemoveResident(1, 0);
  loader.LetGo(2, 1, kStart + absl::Minutes(10));
  EXPECT_EQ(loader.resident_count(), 3u);
  EXPECT_EQ(loader.resident(), 3u);
  loader.RemoveResident(1, 0);
  EXPECT_EQ(loader.resident_count(), 3u) << "removing twice counts once";
}

}  // namespace
}  // namespace volley::queue
