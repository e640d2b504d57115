// An operator's bounce rules against a real volleyd and sink: `[bounce] rules` names a file whose
// codes and regexes go on top of the shipped ones, and the Bounce and TransientFailure records
// carry the classes they give.
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/relay_world.h"

namespace volley {
namespace {

TEST(BounceRulesTest, AnOperatorsRulesClassifyTheRecords) {
  const std::string rules = absl::StrCat(testing::TempDir(), "/operator_rules.toml");
  // The sink says "550 5.1.1" to reject* recipients: this operator calls that InactiveMailbox.
  std::ofstream(rules) << "[codes]\n\"5.1.1\" = \"InactiveMailbox\"\n";
  test_support::RelayWorld world;
  test_support::RelayOptions options;
  options.name = "bounce_rules";
  options.domains = {"classify.test"};
  options.config = absl::StrCat("[bounce]\nrules = \"", rules, "\"\n");
  ASSERT_TRUE(world.Start(std::move(options)).ok());
  const std::vector<std::string> recipients = {"reject1@classify.test", "ok1@classify.test"};
  auto accepted = test_support::InjectEach(world.volleyd().smtp_port(), recipients);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  auto entries = test_support::WaitForFinalRecords(world.log_path(), recipients, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  int bounces = 0;
  for (const test_support::LogEntry& e : test_support::EntriesFor(*entries, recipients[0])) {
    if (e.type != "Bounce") continue;
    ++bounces;
    EXPECT_EQ(e.code, 550);
    EXPECT_EQ(e.enhanced, "5.1.1");
    EXPECT_EQ(e.classification, "InactiveMailbox");
  }
  EXPECT_EQ(bounces, 1);
  EXPECT_EQ(test_support::TypesFor(*entries, recipients[1]).back(), "Delivery");
}

}  // namespace
}  // namespace volley
