#include "engine/inject/credential_checker.h"

#include <crypt.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::inject {
namespace {

std::shared_ptr<const UserTable> Users(const char* user, const char* password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof(salt));
  struct crypt_data data = {};
  absl::StatusOr<UserTable> table =
      UserTable::Parse(absl::StrCat(user, ":", crypt_rn(password, salt, &data, sizeof(data))), "t");
  EXPECT_TRUE(table.ok()) << table.status();
  return std::make_shared<const UserTable>(*std::move(table));
}

class CredentialCheckerTest : public ::testing::Test {
 protected:
  CredentialChecker::Verdict Check(CredentialChecker& checker, const std::string& peer,
                                   const std::string& user, const std::string& password) {
    std::promise<CredentialChecker::Verdict> verdict;
    checker.Check(peer, user, password,
                  [&](CredentialChecker::Verdict v) { verdict.set_value(v); });
    return verdict.get_future().get();
  }

  WorkerPool pool_{2};
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST(CredentialCheckerDelayTest, GrowsFromAQuarterSecondAndStopsAtSixteen) {
  EXPECT_EQ(CredentialChecker::FailureDelay(0), absl::ZeroDuration());
  EXPECT_EQ(CredentialChecker::FailureDelay(1), absl::Milliseconds(250));
  EXPECT_EQ(CredentialChecker::FailureDelay(2), absl::Milliseconds(500));
  EXPECT_EQ(CredentialChecker::FailureDelay(3), absl::Seconds(1));
  EXPECT_EQ(CredentialChecker::FailureDelay(7), absl::Seconds(16));
  EXPECT_EQ(CredentialChecker::FailureDelay(50), absl::Seconds(16));
}

TEST_F(CredentialCheckerTest, FailuresFromOneAddressSlowItDownAndASuccessForgetsThem) {
  CredentialChecker checker(&pool_, Users("app", "secret"), [this] { return now_; });
  CredentialChecker::Verdict first = Check(checker, "10.0.0.1", "app", "wrong");
  EXPECT_FALSE(first.ok);
  EXPECT_EQ(first.delay, absl::Milliseconds(250));
  EXPECT_EQ(Check(checker, "10.0.0.1", "app", "wrong").delay, absl::Milliseconds(500));
  EXPECT_EQ(Check(checker, "10.0.0.1", "nobody", "x").delay, absl::Seconds(1));
  // Another address starts afresh.
  EXPECT_EQ(Check(checker, "10.0.0.2", "app", "wrong").delay, absl::Milliseconds(250));
  CredentialChecker::Verdict good = Check(checker, "10.0.0.1", "app", "secret");
  EXPECT_TRUE(good.ok);
  EXPECT_EQ(good.delay, absl::ZeroDuration());
  EXPECT_EQ(Check(checker, "10.0.0.1", "app", "wrong").delay, absl::Milliseconds(250));
}

TEST_F(CredentialCheckerTest, FailuresAreForgottenAfterQuarterOfAnHour) {
  CredentialChecker checker(&pool_, Users("app", "secret"), [this] { return now_; });
  Check(checker, "10.0.0.1", "app", "wrong");
  EXPECT_EQ(Check(checker, "10.0.0.1", "app", "wrong").delay, absl::Milliseconds(500));
  now_ += CredentialChecker::kForgetAfter;
  EXPECT_EQ(Check(checker, "10.0.0.1", "app", "wrong").delay, absl::Milliseconds(250));
}

// Where `done` ran for a check: a remembered good password is answered at once, on the caller's
// thread; everything else is hashed on the pool.
TEST_F(CredentialCheckerTest, GoodCredentialsAreRememberedForAnHourBadOnesNever) {
  CredentialChecker checker(&pool_, Users("app", "secret"), [this] { return now_; });
  auto where = [&](const std::string& password, bool* ok) {
    std::promise<std::thread::id> thread;
    checker.Check("10.0.0.1", "app", password, [&](CredentialChecker::Verdict v) {
      *ok = v.ok;
      thread.set_value(std::this_thread::get_id());
    });
    return thread.get_future().get();
  };
  const std::thread::id self = std::this_thread::get_id();
  bool ok = false;
  EXPECT_NE(where("secret", &ok), self);
  EXPECT_TRUE(ok);
  EXPECT_EQ(where("secret", &ok), self);
  EXPECT_TRUE(ok);
  EXPECT_NE(where("wrong", &ok), self);
  EXPECT_FALSE(ok);
  now_ += CredentialChecker::kRememberFor;
  EXPECT_NE(where("secret", &ok), self);
  EXPECT_TRUE(ok);
}

TEST_F(CredentialCheckerTest, AReplacedTableAppliesToLaterChecks) {
  CredentialChecker checker(&pool_, Users("app", "old"), [this] { return now_; });
  EXPECT_TRUE(Check(checker, "10.0.0.1", "app", "old").ok);
  checker.Replace(Users("app", "new"));
  EXPECT_FALSE(Check(checker, "10.0.0.1", "app", "old").ok);
  EXPECT_TRUE(Check(checker, "10.0.0.1", "app", "new").ok);
}

}  // namespace
}  // namespace volley::inject
