// [[shaping.automation]] against a real volleyd and sink: a rule for "421 4.7.0 Too many
// connections" settles the site at the two connections it takes; a Suspend rule suspends the
// path that got the reply through the engine's store (listed by the API, logged), and the mail
// waits until the suspension is lifted.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/relay_world.h"

namespace volley {
namespace {

// The world's site's suspensions, as the API lists them.
nlohmann::json Suspensions(test_support::RelayWorld& world) {
  auto r = world.Api("GET", "/api/admin/suspend/v1");
  return r.ok() ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
}

void StartWorld(test_support::RelayWorld& world, const std::string& name,
                const test_support::SinkOptions& sink, const std::string& rules) {
  test_support::RelayOptions options;
  options.name = name;
  options.sink = sink;
  options.domains = {"rules.test"};
  options.config = rules;
  ASSERT_TRUE(world.Start(std::move(options)).ok());
}

std::vector<std::string> Recipients(int n, const std::string& prefix = "u") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(absl::StrCat(prefix, i, "@rules.test"));
  return out;
}

TEST(ResponseRules, ARuleForTooManyConnectionsSettlesTheSiteAtWhatItTakes) {
  test_support::RelayWorld world;
  test_support::SinkOptions sink;
  sink.max_connections = 2;
  StartWorld(world, "rules_connections", sink, R"([[shaping.automation]]
regex = "^421 4\\.7\\.0 Too many connections"
action = { SetConfig = { name = "connection_limit", value = 2 } }
trigger = "Immediate"
duration = "30m"
)");
  const std::vector<std::string> recipients = Recipients(400);
  auto accepted = test_support::InjectEach(world.volleyd().smtp_port(), recipients);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  // The first refusal fires the rule: the explain read-out shows the override, its rule, and
  // the limit in force.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  nlohmann::json queue;
  while (absl::Now() < deadline && queue.is_null()) {
    const nlohmann::json q = world.Explain();
    if (q.is_object() && !q["overrides"].empty()) queue = q;
    if (queue.is_null()) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_FALSE(queue.is_null()) << "no override within a minute";
  const uint64_t refused_then = world.sink().refused_connections();
  const uint64_t open_then = queue["connections"].get<uint64_t>();
  const nlohmann::json& o = queue["overrides"][0];
  EXPECT_EQ(o["key"], "connection_limit");
  EXPECT_EQ(o["value"], "2");
  EXPECT_NE(o["rule"].get<std::string>().find("volley.toml:"), std::string::npos);
  EXPECT_EQ(queue["sources"][0]["connection_limit"], 2);
  auto entries = test_support::WaitForFinalRecords(world.log_path(), recipients, absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  // Settled: from the override on, no connection beyond the two the site takes was opened; only
  // those already open then could still be refused.
  const uint64_t refused = world.sink().refused_connections();
  EXPECT_LE(refused - refused_then, open_then);
  EXPECT_LE(refused, 10u);  // the first burst, within the default connection_limit
  EXPECT_EQ(world.NotOnce(recipients), 0);
  std::cout << recipients.size() << " messages, " << refused << " connections refused\n";
}

TEST(ResponseRules, ASuspendRuleSuspendsThePathThroughTheStore) {
  test_support::RelayWorld world;
  StartWorld(world, "rules_suspend", test_support::SinkOptions{}, R"([[shaping.automation]]
regex = "^451 4\\.3\\.0 Temporary failure requested"
action = "Suspend"
duration = "1h"
)");
  // The first message's recipient is refused with the reply the rule names.
  auto first = test_support::InjectEach(world.volleyd().smtp_port(), {"tempfail@rules.test"}, 1);
  ASSERT_TRUE(first.ok() && *first == 1u);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  nlohmann::json listed;
  while (absl::Now() < deadline) {
    listed = Suspensions(world);
    if (listed.is_array() && !listed.empty()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(listed.is_array() && listed.size() == 1u) << listed.dump();
  EXPECT_EQ(listed[0]["site"], absl::StrCat("route:127.0.0.1:", world.sink().port()));
  EXPECT_EQ(listed[0]["source"], "default");
  EXPECT_NE(listed[0]["origin"].get<std::string>().find("volley.toml:"), std::string::npos);
  EXPECT_NE(listed[0]["reason"].get<std::string>().find("451 4.3.0 Temporary failure requested"),
            std::string::npos);
  // What comes next waits for the suspension.
  const std::vector<std::string> recipients = Recipients(20);
  auto accepted = test_support::InjectEach(world.volleyd().smtp_port(), recipients);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  const absl::Time held_deadline = absl::Now() + absl::Seconds(30);
  int held = 0;
  while (absl::Now() < held_deadline && held != 20) {
    const nlohmann::json q = world.Explain();
    held = q.is_object() ? q.value("suspended", 0) : 0;
    if (held != 20) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(held, 20);
  for (const std::string& r : recipients) EXPECT_EQ(world.Received(r), 0) << r;
  auto lifted = test_support::HttpCall(
      "127.0.0.1", world.volleyd().http_port(), "DELETE", "/api/admin/suspend/v1",
      absl::StrCat(R"({"id": ")", listed[0]["id"].get<std::string>(), R"("})"));
  ASSERT_TRUE(lifted.ok() && lifted->status == 200);
  auto entries = test_support::WaitForFinalRecords(world.log_path(), recipients, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const std::string& r : recipients) EXPECT_EQ(world.Received(r), 1) << r;
  int begins = 0;
  for (const test_support::LogEntry& e : *entries) {
    if (e.type == "Suspended" && e.raw["state"] == "begin") ++begins;
  }
  EXPECT_EQ(begins, 1);
}

}  // namespace
}  // namespace volley
