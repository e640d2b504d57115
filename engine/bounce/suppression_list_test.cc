// The suppression list over a real spool: per-tenant and every-tenant entries, case, expiry,
// paging, a restart, and a bad address.
#include "engine/bounce/suppression_list.h"

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "queue/test_temp_path.h"

namespace volley::bounce {
namespace {

class SuppressionListTest : public ::testing::Test {
 protected:
  void Open() {
    list_.reset();
    spool_.reset();
    auto spool = queue::Spool::Open(path_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    list_ = std::make_unique<SuppressionList>(spool_.get(), &clock_);
  }

  SuppressionEntry Entry(std::string recipient, std::string tenant = "") {
    SuppressionEntry e;
    e.recipient = std::move(recipient);
    e.tenant = std::move(tenant);
    e.reason = "550 5.1.1 user unknown";
    e.source = "bounce";
    e.created = clock_.Now();
    return e;
  }

  bool Suppressed(absl::string_view recipient, absl::string_view tenant = "") {
    auto found = list_->Lookup(recipient, tenant);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() && found->has_value();
  }

  const std::string path_ = queue::TempPath("suppression_list");
  SimulatedClock clock_;
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<SuppressionList> list_;
};

TEST_F(SuppressionListTest, AnEveryTenantEntryHoldsForAllAndATenantsOnlyForIt) {
  Open();
  ASSERT_TRUE(list_->Add(Entry("Gone@Example.COM")).ok());
  ASSERT_TRUE(list_->Add(Entry("complained@example.com", "t1")).ok());
  EXPECT_TRUE(Suppressed("gone@example.com"));
  EXPECT_TRUE(Suppressed("GONE@example.com", "t2"));
  EXPECT_TRUE(Suppressed("complained@example.com", "t1"));
  EXPECT_FALSE(Suppressed("complained@example.com", "t2"));
  EXPECT_FALSE(Suppressed("complained@example.com"));
  EXPECT_FALSE(Suppressed("other@example.com"));
  auto found = list_->Lookup("gone@example.com", "");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->recipient, "gone@example.com");
  EXPECT_EQ((*found)->reason, "550 5.1.1 user unknown");
  EXPECT_EQ((*found)->source, "bounce");
}

TEST_F(SuppressionListTest, EntriesSurviveARestartAndCanBeRemoved) {
  Open();
  ASSERT_TRUE(list_->Add(Entry("a@example.com")).ok());
  Open();
  EXPECT_TRUE(Suppressed("a@example.com"));
  ASSERT_TRUE(list_->Remove("A@example.com", "").ok());
  EXPECT_FALSE(Suppressed("a@example.com"));
  EXPECT_EQ(list_->Remove("a@example.com", "").code(), absl::StatusCode::kNotFound);
}

TEST_F(SuppressionListTest, AnExpiredEntryNoLongerSuppressesAndListingRemovesIt) {
  Open();
  SuppressionEntry e = Entry("soon@example.com");
  e.expires = clock_.Now() + absl::Hours(1);
  ASSERT_TRUE(list_->Add(e).ok());
  ASSERT_TRUE(list_->Add(Entry("kept@example.com")).ok());
  EXPECT_TRUE(Suppressed("soon@example.com"));
  clock_.Advance(absl::Hours(2));
  EXPECT_FALSE(Suppressed("soon@example.com"));
  auto page = list_->List("", 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].recipient, "kept@example.com");
  auto raw = spool_->GetSuppression(absl::StrCat("soon@example.com", std::string(1, '\0')));
  ASSERT_TRUE(raw.ok());
  EXPECT_FALSE(raw->has_value()) << "removed from the spool";
}

TEST_F(SuppressionListTest, PagesWalkTheWholeListInOrder) {
  Open();
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(list_->Add(Entry(absl::StrCat("u", 100 + i, "@example.com"))).ok());
  }
  std::vector<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = list_->List(cursor, 10);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const SuppressionEntry& e : page->entries) seen.push_back(e.recipient);
    if (page->next.empty()) break;
    cursor = page->next;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "u100@example.com");
  EXPECT_EQ(seen.back(), "u124@example.com");
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(SuppressionListTest, ANonAddressIsRefused) {
  Open();
  for (const char* bad : {"", "nodomain", "@example.com", "user@"}) {
    EXPECT_EQ(list_->Add(Entry(bad)).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(HardBounceSuppression, OnlyTheConfiguredClassesForEveryTenantForTheirLifetime) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  const std::vector<BounceClass> classes = {BounceClass::kInvalidRecipient};
  EXPECT_FALSE(HardBounceSuppression(classes, BounceClass::kQuotaIssues, "a@x.test", "552",
                                     "bounce", now, absl::InfiniteDuration())
                   .has_value());
  std::optional<SuppressionEntry> forever =
      HardBounceSuppression(classes, BounceClass::kInvalidRecipient, "a@x.test", "550 5.1.1", "oob",
                            now, absl::InfiniteDuration());
  ASSERT_TRUE(forever.has_value());
  EXPECT_EQ(forever->tenant, "");
  EXPECT_EQ(forever->source, "oob");
  EXPECT_EQ(forever->created, now);
  EXPECT_EQ(forever->expires, absl::InfiniteFuture());
  std::optional<SuppressionEntry> month =
      HardBounceSuppression(classes, BounceClass::kInvalidRecipient, "a@x.test", "550", "bounce",
                            now, absl::Hours(24 * 30));
  ASSERT_TRUE(month.has_value());
  EXPECT_EQ(month->expires, now + absl::Hours(24 * 30));
}

}  // namespace
}  // namespace volley::bounce
