// What a reload takes from a new file and what it leaves as the engine started.
#include "engine/config/reload.h"

#include <string>

#include "engine/config/config.h"
#include "engine/config/config_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::string_view kRunning = R"toml(
[delivery]
retry_initial = "1m"

[shaping."slow.test"]
max_message_rate = "100/s"
connection_limit = 4

[routes]
"routed.test" = { host = "127.0.0.1:2600" }
)toml";

Config Parse(absl::string_view toml) {
  absl::StatusOr<Config> config = ParseConfig(toml, kOrigin);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : Config::Defaults();
}

TEST(PlanReload, TakesTheReloadableTablesAndKeepsTheRest) {
  const Config running = Parse(kRunning);
  const ReloadPlan plan = PlanReload(running, Parse(R"toml(
[delivery]
retry_initial = "7m"

[shaping."slow.test"]
max_message_rate = "10/s"

[egress.two]
sources = [{ address = "127.0.0.2", warmup = "new" }]

[warmup.new]
daily = [7]
)toml"));
  const ShapingConfig slow = plan.config.shaping.Resolve("slow.test", {}, "");
  ASSERT_TRUE(slow.max_message_rate.has_value());
  EXPECT_EQ(slow.max_message_rate->quantity, 10);
  EXPECT_EQ(slow.connection_limit, ShapingConfig{}.connection_limit);
  EXPECT_TRUE(plan.config.routes.empty());
  EXPECT_TRUE(plan.config.egress_pools.contains("two"));
  EXPECT_EQ(plan.config.warmup_schedules.at("new").daily, std::vector<int64_t>{7});
  // [delivery] changed in the file but is not reloaded.
  EXPECT_EQ(plan.config.delivery.retry_initial, absl::Minutes(1));
  EXPECT_THAT(plan.applied, ElementsAre("shaping", "routes", "egress", "warmup"));
  EXPECT_THAT(plan.need_restart, ElementsAre("delivery"));
}

TEST(PlanReload, CommentsSpacingAndKeyOrderAreNoChange) {
  const Config running = Parse(kRunning);
  const ReloadPlan plan = PlanReload(running, Parse(R"toml(
# the same settings, written differently
[routes]
"routed.test" = {host="127.0.0.1:2600"}

[shaping."slow.test"]
connection_limit = 4   # per site
max_message_rate = "100/s"

[delivery]
retry_initial = "1m"
)toml"));
  EXPECT_THAT(plan.applied, IsEmpty());
  EXPECT_THAT(plan.need_restart, IsEmpty());
  EXPECT_EQ(plan.config.routes.size(), 1u);
}

TEST(PlanReload, ASecondReloadComparesWithWhatTheFirstApplied) {
  const Config running = Parse(kRunning);
  const std::string next = R"toml(
[delivery]
retry_initial = "1m"

[shaping."slow.test"]
max_message_rate = "5/s"
)toml";
  const ReloadPlan first = PlanReload(running, Parse(next));
  EXPECT_THAT(first.applied, ElementsAre("shaping", "routes"));
  const ReloadPlan second = PlanReload(first.config, Parse(next));
  EXPECT_THAT(second.applied, IsEmpty());
  EXPECT_THAT(second.need_restart, IsEmpty());
}

}  // namespace
}  // namespace volley::config
