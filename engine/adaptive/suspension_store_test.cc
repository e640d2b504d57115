#include "engine/adaptive/suspension_store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "queue/test_temp_path.h"

namespace volley::adaptive {
namespace {

// Keeps the Suspended records the store writes.
class RecordedLog : public events::EventSink {
 public:
  void OnEvent(const events::RecipientEvent&) override {}
  void OnSuspension(const events::SuspensionEvent& e) override {
    records.push_back(std::string(e.state) + ":" + std::string(e.ended_by) + ":" +
                      std::string(e.domain));
  }
  std::vector<std::string> records;
};

Suspension Of(std::string domain, std::string origin, absl::Time expires) {
  Suspension s;
  s.domain = std::move(domain);
  s.reason = "test";
  s.origin = std::move(origin);
  s.expires = expires;
  return s;
}

class SuspensionStoreTest : public ::testing::Test {
 protected:
  void Open() {
    spool_.reset();
    auto spool = queue::Spool::Open(path_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    store_ = std::make_unique<SuspensionStore>(spool_.get(), &clock_, &log_);
    ASSERT_TRUE(store_->Load().ok());
    store_->set_publish(
        [this](std::shared_ptr<const SuspensionSet> set) { published_.push_back(std::move(set)); });
  }

  const std::string path_ = queue::TempPath("suspension_store");
  SimulatedClock clock_;
  RecordedLog log_;
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<SuspensionStore> store_;
  std::vector<std::shared_ptr<const SuspensionSet>> published_;
};

TEST_F(SuspensionStoreTest, AddedSuspensionsArePublishedAndSurviveARestart) {
  Open();
  absl::StatusOr<Suspension> a =
      store_->Add(Of("a.example", "admin", clock_.Now() + absl::Hours(1)));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->id.size(), 36u);
  clock_.Advance(absl::Seconds(1));  // listed in creation order
  ASSERT_TRUE(store_->Add(Of("b.example", "admin", clock_.Now() + absl::Hours(2))).ok());
  ASSERT_EQ(published_.size(), 2u);
  EXPECT_EQ(published_.back()->all().size(), 2u);
  EXPECT_EQ(store_->SuspendedDomains(), 2);
  EXPECT_EQ(log_.records, (std::vector<std::string>{"begin::a.example", "begin::b.example"}));

  Open();  // a restart
  std::vector<Suspension> listed = store_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, a->id);
  EXPECT_EQ(listed[0].expires, a->expires);
  EXPECT_EQ(store_->current()->all().size(), 2u);
}

TEST_F(SuspensionStoreTest, LiftedAndExpiredOnesEndWithARecordAndStayGone) {
  Open();
  absl::StatusOr<Suspension> a =
      store_->Add(Of("a.example", "admin", clock_.Now() + absl::Hours(1)));
  ASSERT_TRUE(store_->Add(Of("b.example", "admin", clock_.Now() + absl::Minutes(5))).ok());
  ASSERT_TRUE(store_->Lift(a->id).ok());
  EXPECT_EQ(store_->Lift(a->id).code(), absl::StatusCode::kNotFound);
  clock_.Advance(absl::Minutes(4));
  ASSERT_TRUE(store_->ExpireDue().ok());
  EXPECT_EQ(store_->List().size(), 1u);
  clock_.Advance(absl::Minutes(2));
  EXPECT_TRUE(store_->List().empty());  // expired, though not swept yet
  ASSERT_TRUE(store_->ExpireDue().ok());
  EXPECT_TRUE(published_.back()->empty());
  EXPECT_EQ(log_.records.back(), "end:expired:b.example");
  EXPECT_EQ(log_.records[2], "end:lifted:a.example");
  Open();
  EXPECT_TRUE(store_->List().empty());
}

TEST_F(SuspensionStoreTest, ThoseThatExpiredWhileDownEndAtLoad) {
  Open();
  ASSERT_TRUE(store_->Add(Of("a.example", "admin", clock_.Now() + absl::Minutes(1))).ok());
  spool_.reset();
  clock_.Advance(absl::Minutes(10));
  Open();
  EXPECT_TRUE(store_->List().empty());
  ASSERT_TRUE(store_->ExpireDue().ok());
  EXPECT_EQ(log_.records.back(), "end:expired:a.example");
  Open();
  EXPECT_TRUE(store_->current()->empty());
}

TEST_F(SuspensionStoreTest, ARuleThatFiresAgainExtendsItsSuspension) {
  Open();
  auto first = store_->Add(Of("a.example", "rule 1", clock_.Now() + absl::Minutes(10)));
  auto again = store_->Add(Of("a.example", "rule 1", clock_.Now() + absl::Minutes(30)));
  auto other = store_->Add(Of("a.example", "admin", clock_.Now() + absl::Minutes(30)));
  ASSERT_TRUE(first.ok() && again.ok() && other.ok());
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->expires, clock_.Now() + absl::Minutes(30));
  EXPECT_NE(other->id, first->id);
  EXPECT_EQ(store_->List().size(), 2u);
  EXPECT_EQ(log_.records[1], "extended::a.example");
}

}  // namespace
}  // namespace volley::adaptive
