// Webhooks end to end: a real volleyd relays to the test sink and POSTs its events to a Python
// endpoint (tests/testdata/webhook_receiver.py) that verifies every signature. An endpoint that
// fails for 30 seconds then recovers gets every event exactly once, in order per recipient; a
// kill -9 in the middle of sending repeats at most the batch that was in flight.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/relay_world.h"
#include "tests/support/shell.h"
#include "tests/support/volleyd_process.h"

extern char** environ;

namespace volley {
namespace {

using nlohmann::json;

constexpr char kSecret[] = "the platform's webhook secret";

// The Python endpoint, as a child process for the test's life.
class Receiver {
 public:
  Receiver(const std::string& dir, int fail_seconds, int delay_ms)
      : port_file_(absl::StrCat(dir, "/receiver.port")),
        events_file_(absl::StrCat(dir, "/receiver.jsonl")) {
    std::filesystem::remove(port_file_);
    const std::string script =
        absl::StrCat(std::getenv("TEST_SRCDIR"), "/volley/tests/testdata/webhook_receiver.py");
    const std::string fail = absl::StrCat(fail_seconds), delay = absl::StrCat(delay_ms);
    std::vector<const char*> argv = {test_support::kPython, script.c_str(), port_file_.c_str(),
                                     events_file_.c_str(),  kSecret,        fail.c_str(),
                                     delay.c_str(),         nullptr};
    if (posix_spawn(&pid_, test_support::kPython, nullptr, nullptr,
                    const_cast<char* const*>(argv.data()), environ) != 0) {
      pid_ = -1;
    }
  }
  ~Receiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Its port, once it listens (0 after ten seconds without).
  uint16_t Port() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      int port = 0;
      if (absl::SimpleAtoi(test_support::ReadFileOrEmpty(port_file_), &port)) return port;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return 0;
  }

  std::vector<json> Events() const {
    std::vector<json> out;
    for (absl::string_view line :
         absl::StrSplit(test_support::ReadFileOrEmpty(events_file_), '\n', absl::SkipEmpty())) {
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }

  // Waits until the endpoint holds at least `n` events (false after `timeout`).
  bool WaitForEvents(size_t n, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (Events().size() >= n) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

 private:
  std::string port_file_, events_file_;
  pid_t pid_ = -1;
};

// The events the delivery log says happened, of the types the webhook sends, in log order:
// "type id recipient".
std::vector<std::string> LoggedEvents(const std::string& log_path) {
  std::vector<std::string> out;
  for (const test_support::LogEntry& e : test_support::ReadDeliveryLog(log_path)) {
    if (e.type == "Reception" || e.type == "Delivery" || e.type == "Bounce") {
      out.push_back(absl::StrCat(e.type, " ", e.id, " ", e.recipient));
    }
  }
  return out;
}

std::string KeyOf(const json& event) {
  return absl::StrCat(event.value("type", ""), " ", event.value("id", ""), " ",
                      event.value("recipient", ""));
}

class WebhookTest : public ::testing::Test {
 protected:
  void StartWorld(const std::string& name, uint16_t receiver_port, int batch_size) {
    test_support::RelayOptions options;
    options.name = name;
    options.domains = {"hook.test"};
    options.config = absl::StrCat(
        "[delivery]\ndsn = false\n[[webhook]]\nname = \"platform\"\nurl = \"http://127.0.0.1:",
        receiver_port, "/events\"\nevents = [\"Reception\", \"Delivery\", \"Bounce\"]\n",
        "batch_size = ", batch_size, "\nmax_batch_delay = \"100ms\"\nhmac_secret = \"", kSecret,
        "\"\ntimeout = \"5s\"\n");
    ASSERT_TRUE(world_.Start(std::move(options)).ok());
  }

  static std::vector<std::string> Recipients(int n, const std::string& tag) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      // Every fifth is refused by the sink: a Bounce.
      out.push_back(absl::StrCat(i % 5 == 4 ? "reject-" : "", tag, i, "@hook.test"));
    }
    return out;
  }

  test_support::RelayWorld world_;
};

TEST_F(WebhookTest, AnEndpointDownFor30SecondsGetsEveryEventOnceInOrder) {
  const std::string dir = test_support::FreshTestDir("webhook_outage_receiver");
  Receiver receiver(dir, /*fail_seconds=*/30, /*delay_ms=*/0);
  const uint16_t port = receiver.Port();
  ASSERT_NE(port, 0) << "the receiver did not start";
  StartWorld("webhook_outage", port, /*batch_size=*/25);
  const std::vector<std::string> recipients = Recipients(40, "o");
  ASSERT_EQ(*test_support::InjectEach(world_.volleyd().smtp_port(), recipients), 40u);
  ASSERT_TRUE(
      test_support::WaitForFinalRecords(world_.log_path(), recipients, absl::Seconds(30)).ok());
  const std::vector<std::string> logged = LoggedEvents(world_.log_path());
  ASSERT_EQ(logged.size(), 80u);  // a Reception and a Delivery or Bounce each

  ASSERT_TRUE(receiver.WaitForEvents(logged.size(), absl::Seconds(120)))
      << receiver.Events().size() << " of " << logged.size();
  const std::vector<json> got = receiver.Events();
  std::multiset<std::string> seen;
  std::map<std::string, std::vector<std::string>> per_recipient;
  for (const json& e : got) {
    ASSERT_FALSE(e.contains("bad_signature")) << "a request whose HMAC did not verify";
    seen.insert(KeyOf(e));
    per_recipient[e.value("recipient", "")].push_back(e.value("type", ""));
  }
  EXPECT_EQ(got.size(), logged.size()) << "exactly once";
  for (const std::string& event : logged) EXPECT_EQ(seen.count(event), 1u) << event;
  for (const std::string& r : recipients) {
    ASSERT_EQ(per_recipient[r].size(), 2u) << r;
    EXPECT_EQ(per_recipient[r][0], "Reception") << r;
    EXPECT_EQ(per_recipient[r][1], r.rfind("reject-", 0) == 0 ? "Bounce" : "Delivery") << r;
  }
  auto metrics = test_support::HttpGet("127.0.0.1", world_.volleyd().http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_GT(test_support::MetricValue(metrics->body,
                                      "volley_webhook_failures_total{webhook=\"platform\"}"),
            0);
  EXPECT_EQ(
      test_support::MetricValue(metrics->body, "volley_webhook_backlog{webhook=\"platform\"}"), 0);
  EXPECT_EQ(test_support::MetricValue(metrics->body,
                                      "volley_webhook_events_sent_total{webhook=\"platform\"}"),
            80);
}

TEST_F(WebhookTest, AKillDashNineRepeatsAtMostTheBatchInFlight) {
  const std::string dir = test_support::FreshTestDir("webhook_kill_receiver");
  // Slow answers: the sending is still going when volleyd is killed.
  Receiver receiver(dir, /*fail_seconds=*/0, /*delay_ms=*/300);
  const uint16_t port = receiver.Port();
  ASSERT_NE(port, 0);
  StartWorld("webhook_kill", port, /*batch_size=*/10);
  const std::vector<std::string> recipients = Recipients(60, "k");
  ASSERT_EQ(*test_support::InjectEach(world_.volleyd().smtp_port(), recipients), 60u);
  ASSERT_TRUE(
      test_support::WaitForFinalRecords(world_.log_path(), recipients, absl::Seconds(30)).ok());
  const std::vector<std::string> logged = LoggedEvents(world_.log_path());
  ASSERT_EQ(logged.size(), 120u);
  ASSERT_TRUE(receiver.WaitForEvents(30, absl::Seconds(60)));
  ASSERT_TRUE(world_.KillAndRestart().ok());

  // The restarted sender drains its queue: its backlog comes back to 0 with every event
  // accepted; then the only events there twice are one batch's.
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  double backlog = -1;
  while (absl::Now() < deadline) {
    auto metrics = test_support::HttpGet("127.0.0.1", world_.volleyd().http_port(), "/metrics");
    backlog = metrics.ok() ? test_support::MetricValue(
                                 metrics->body, "volley_webhook_backlog{webhook=\"platform\"}")
                           : -1;
    if (backlog == 0) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(backlog, 0) << "the queue did not drain after the restart";
  const std::vector<json> got = receiver.Events();
  std::map<std::string, int> count;
  std::map<std::string, std::set<std::string>> batches_of;
  for (const json& e : got) {
    ASSERT_FALSE(e.contains("bad_signature"));
    ++count[KeyOf(e)];
    batches_of[KeyOf(e)].insert(e.value("batch", ""));
  }
  std::set<std::string> repeated_batches;
  int repeated = 0;
  for (const std::string& event : logged) {
    ASSERT_GE(count[event], 1) << "lost: " << event;
    EXPECT_LE(count[event], 2) << event;
    if (count[event] == 2) {
      ++repeated;
      repeated_batches.insert(*batches_of[event].begin());
    }
  }
  EXPECT_LE(repeated, 10) << "more than one batch came twice";
  EXPECT_LE(repeated_batches.size(), 1u);
}

}  // namespace
}  // namespace volley
