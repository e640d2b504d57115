// The warm-up ledger over a real spool: caps shared by every site that asks, states that
// survive a reopening, and a record that cannot be read costing only its own state.
#include "engine/adaptive/warmup_ledger.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "queue/test_temp_path.h"

namespace volley::adaptive {
namespace {

const absl::Time kNoon = absl::FromUnixSeconds(20000LL * 86400 + 12 * 3600);

config::WarmupSchedule Hourly(int64_t cap) {
  config::WarmupSchedule s;
  s.name = "test";
  s.daily = {1000, 1000};
  s.hourly = {cap, cap};
  return s;
}

class WarmupLedgerTest : public ::testing::Test {
 protected:
  void Open() {
    ledger_.reset();
    spool_.reset();
    auto spool = queue::Spool::Open(path_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    ledger_ = std::make_unique<WarmupLedger>(spool_.get());
    ASSERT_TRUE(ledger_->Load().ok());
  }

  const std::string path_ = queue::TempPath("warmup_ledger");
  const config::WarmupSchedule schedule_ = Hourly(3);
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<WarmupLedger> ledger_;
};

TEST_F(WarmupLedgerTest, CapsOfOneSourceAndProviderShareOneCount) {
  Open();
  // Two sites (on two shards, say) of one provider, and one of another provider.
  std::unique_ptr<WarmupCap> a = ledger_->Cap("ip1", "gmail", &schedule_, kNoon);
  std::unique_ptr<WarmupCap> b = ledger_->Cap("ip1", "gmail", &schedule_, kNoon);
  std::unique_ptr<WarmupCap> other = ledger_->Cap("ip1", "yahoo", &schedule_, kNoon);
  EXPECT_TRUE(a->Take(kNoon).go());
  EXPECT_TRUE(b->Take(kNoon).go());
  EXPECT_EQ(a->Available(kNoon), 1);
  EXPECT_TRUE(a->Take(kNoon).go());
  const shaping::Admission full = b->Take(kNoon);
  EXPECT_FALSE(full.go());
  EXPECT_EQ(full.limit(), shaping::kWarmup);
  EXPECT_EQ(b->Peek(kNoon).not_before(), full.not_before());
  EXPECT_EQ(other->Available(kNoon), 3);
  b->Return(kNoon);
  EXPECT_TRUE(a->Take(kNoon).go());
}

TEST_F(WarmupLedgerTest, StatesSurviveAReopening) {
  Open();
  {
    std::unique_ptr<WarmupCap> cap = ledger_->Cap("ip1", "gmail", &schedule_, kNoon);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(cap->Take(kNoon).go());
    cap->CountReplies(3, 0, kNoon);
  }
  // A day with replies and no deferral: tomorrow is day 2.
  Open();  // the ledger's destructor flushed
  std::unique_ptr<WarmupCap> cap = ledger_->Cap("ip1", "gmail", &schedule_, kNoon);
  EXPECT_FALSE(cap->Take(kNoon + absl::Minutes(30)).go()) << "the hour's count came back";
  EXPECT_TRUE(cap->Take(kNoon + absl::Hours(24)).go());
  const std::string explain = cap->ExplainJson(kNoon + absl::Hours(24));
  EXPECT_NE(explain.find("\"day\":2"), std::string::npos) << explain;
  EXPECT_NE(explain.find("\"last_verdict\":\"advanced\""), std::string::npos) << explain;
}

TEST_F(WarmupLedgerTest, FlushWritesOnlyWhatChanged) {
  Open();
  std::unique_ptr<WarmupCap> cap = ledger_->Cap("ip1", "gmail", &schedule_, kNoon);
  ASSERT_TRUE(cap->Take(kNoon).go());
  ASSERT_TRUE(ledger_->Flush().ok());
  // Written now: a new ledger on the same spool (as after a crash) sees it.
  WarmupLedger reader(spool_.get());
  ASSERT_TRUE(reader.Load().ok());
  ASSERT_EQ(reader.States().size(), 1u);
  EXPECT_EQ(reader.States()[0].first.first, "ip1");
  EXPECT_EQ(reader.States()[0].first.second, "gmail");
  EXPECT_EQ(reader.States()[0].second, ledger_->States()[0].second);
}

TEST_F(WarmupLedgerTest, AnUnreadableRecordIsDroppedAlone) {
  Open();
  std::unique_ptr<WarmupCap> cap = ledger_->Cap("ip1", "gmail", &schedule_, kNoon);
  ASSERT_TRUE(cap->Take(kNoon).go());
  cap.reset();
  ledger_.reset();
  ASSERT_TRUE(spool_->PutState("warmup", "junk", "{not json", /*sync=*/true).ok());
  Open();
  ASSERT_EQ(ledger_->States().size(), 1u);
  EXPECT_EQ(ledger_->States()[0].first.first, "ip1");
  auto left = spool_->ReadState("warmup");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 1u) << "the unreadable record is removed";
}

TEST_F(WarmupLedgerTest, TheFlushThreadWritesWithoutAStop) {
  Open();
  std::unique_ptr<WarmupCap> cap = ledger_->Cap("ip9", "site", &schedule_, kNoon);
  ASSERT_TRUE(cap->Take(kNoon).go());
  ledger_->StartFlushing(absl::Milliseconds(10));
  // Polls the spool (bounded) until the flush thread has written the state.
  bool written = false;
  for (int i = 0; i < 1000 && !written; ++i) {
    auto stored = spool_->ReadState("warmup");
    ASSERT_TRUE(stored.ok());
    written = !stored->empty();
    if (!written) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(written);
}

}  // namespace
}  // namespace volley::adaptive
