// The limits that protect the engine from its clients (issue 13), observed from clients over
// real sockets: slow clients cut off by their deadlines while others inject, a flood of large
// messages held to the memory budget with 452 beyond it and nothing half-kept, per-IP
// connection limits, and backpressure when the queue passes its bound. Each refusal has its
// reply and its metric.
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/shell.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::HttpGet;
using test_support::MetricValue;
using test_support::RawSmtpClient;
using test_support::ReadDeliveryLog;
using test_support::VolleydProcess;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Under a sanitizer everything is several times slower: the flood is scaled down, budget and
// all, keeping the ratios.
// A sanitizer's allocator keeps freed memory back (ASan's quarantine alone is 256 MiB), so RSS
// says nothing about the budget there: only the replies and the log are checked.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kFloodMib = 2;
constexpr bool kRssMeaningful = false;
#else
constexpr int kFloodMib = 20;
constexpr bool kRssMeaningful = true;
#endif

class LimitsTest : public ::testing::Test {
 protected:
  // Starts volleyd with `inject` (the [inject] and [inject.smtp] tables); mail goes nowhere
  // (a port where nothing listens, retried an hour later), so recipients stay queued.
  void Start(const std::string& name, const std::string& inject) {
    dir_ = test_support::FreshTestDir(name);
    const std::string config_path = absl::StrCat(dir_, "/volley.toml");
    std::ofstream(config_path) << "[server]\nthreads = 2\nspool = \"" << dir_
                               << "/spool\"\nlog = \"" << dir_ << "/delivery.jsonl\"\n"
                               << inject << "[http]\nlisten = \"127.0.0.1:0\"\n"
                               << "[dns]\nservers = [\"127.0.0.1:9\"]\n"
                               << "[delivery]\nretry_initial = \"1h\"\n"
                               << "[routes]\n\"example.test\" = { host = \"127.0.0.1:9\" }\n";
    auto process = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(process.ok()) << process.status();
    volleyd_ = *std::move(process);
  }

  double Metric(const std::string& series) {
    auto metrics = HttpGet("127.0.0.1", volleyd_->http_port(), "/metrics");
    EXPECT_TRUE(metrics.ok()) << metrics.status();
    return metrics.ok() ? MetricValue(metrics->body, series) : -1;
  }
  double Refusals(const std::string& reason) {
    return Metric(absl::StrCat("volley_injection_refusals_total{reason=\"", reason, "\"}"));
  }

  std::unique_ptr<RawSmtpClient> Connect(const std::string& source = "127.0.0.1",
                                         size_t listener = 0) {
    return RawSmtpClient::Connect("127.0.0.1", volleyd_->smtp_ports()[listener], source);
  }

  // A field of volleyd's /proc status (VmHWM, VmRSS) in bytes, -1 when absent.
  int64_t ProcStatus(const std::string& field) {
    const std::string status =
        test_support::ReadFileOrEmpty(absl::StrCat("/proc/", volleyd_->pid(), "/status"));
    for (absl::string_view line : absl::StrSplit(status, '\n')) {
      if (!absl::ConsumePrefix(&line, field + ":")) continue;
      int64_t kb = 0;
      std::vector<absl::string_view> words =
          absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (!words.empty() && absl::SimpleAtoi(words[0], &kb)) return kb * 1024;
    }
    return -1;
  }

  size_t Receptions() {
    size_t n = 0;
    for (const auto& e : ReadDeliveryLog(absl::StrCat(dir_, "/delivery.jsonl"))) {
      if (e.type == "Reception") ++n;
    }
    return n;
  }

  std::string dir_;
  std::unique_ptr<VolleydProcess> volleyd_;
};

TEST_F(LimitsTest, SlowClientsAreCutOffByTheirDeadlinesWhileAFastOneInjects) {
  Start("limits-slowloris",
        "[inject.smtp]\nlisten = \"127.0.0.1:0\"\ncommand_timeout = \"2s\"\n"
        "min_data_rate = \"1KiB\"\nmax_connections_per_ip = 0\n");
  constexpr int kSlow = 50;
  std::vector<std::unique_ptr<RawSmtpClient>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(Connect());
    ASSERT_NE(slow.back(), nullptr);
    ASSERT_THAT(slow.back()->ReadFinal(), StartsWith("220 "));
    if (i % 2 == 1) {
      // Half of them trickle their message instead of a command.
      slow.back()->Ehlo();
      ASSERT_THAT(slow.back()->Command("MAIL FROM:<slow@client.test>"), StartsWith("250 "));
      ASSERT_THAT(slow.back()->Command("RCPT TO:<slow@example.test>"), StartsWith("250 "));
      ASSERT_THAT(slow.back()->Command("DATA"), StartsWith("354"));
    }
  }
  const absl::Time start = absl::Now();
  // One byte a second on every slow connection, for at most 15 s: they never go quiet.
  std::thread trickle([&] {
    std::vector<bool> gone(kSlow, false);
    for (int second = 0; second < 15; ++second) {
      int alive = 0;
      for (int i = 0; i < kSlow; ++i) {
        if (gone[i]) continue;
        gone[i] = !slow[i]->SendRaw(i % 2 == 0 ? "E" : "x");
        alive += gone[i] ? 0 : 1;
      }
      if (alive == 0) return;
      absl::SleepFor(absl::Seconds(1));
    }
  });
  // Meanwhile a client that behaves injects, and is answered as usual.
  bench::InjectorOptions injector;
  injector.port = volleyd_->smtp_port();
  injector.connections = 2;
  auto result = bench::InjectAll(
      injector,
      [](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "fast@client.test";
        m.recipients = {absl::StrCat("fast", i, "@example.test")};
        m.content = "Subject: fast\r\n\r\nquick\r\n";
        return m;
      },
      20);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const auto& reply : result->replies) EXPECT_EQ(reply.code, 250) << reply.Text();
  // Every slow one is told why and closed, a command deadline or a data rate after it began.
  for (int i = 0; i < kSlow; ++i) {
    const std::string reply = slow[i]->ReadFinal();
    if (i % 2 == 0) {
      EXPECT_EQ(reply, "421 4.4.2 volley.localdomain Error: timeout exceeded") << i;
    } else {
      EXPECT_THAT(reply, AllOf(StartsWith("421 4.4.2 "), HasSubstr("too slowly"))) << i;
    }
    EXPECT_TRUE(slow[i]->ReadsEof()) << i;
  }
  const absl::Duration took = absl::Now() - start;
  trickle.join();
  EXPECT_LT(took, absl::Seconds(12));
  EXPECT_EQ(Refusals("command_timeout"), kSlow / 2);
  EXPECT_EQ(Refusals("data_rate"), kSlow / 2);
  EXPECT_EQ(Receptions(), 20u);  // nothing of the trickled messages was kept
}

TEST_F(LimitsTest, AFloodOfLargeMessagesStaysWithinTheMemoryBudget) {
  const int64_t budget = int64_t{64} * kFloodMib / 20 << 20;  // 64 MiB for 20 MiB messages
  Start("limits-memory",
        absl::StrCat("[inject]\nmax_memory = ", budget,
                     "\n[inject.smtp]\nlisten = \"127.0.0.1:0\"\nmax_message_size = \"25MiB\"\n"
                     "max_connections_per_ip = 0\n"));
  const int64_t rss_before = ProcStatus("VmRSS");
  const std::string script =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/volley/tests/testdata/memory_flood.py");
  auto [status, out] = test_support::RunShell(absl::StrCat(test_support::kPython, " ", script,
                                                           " --port ", volleyd_->smtp_port(),
                                                           " --clients 200 --mib ", kFloodMib));
  ASSERT_EQ(status, 0) << out;
  nlohmann::json answer = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(answer.is_discarded()) << out;
  size_t accepted = 0, refused = 0;
  for (const auto& reply : answer["replies"]) {
    const std::string text = reply.get<std::string>();
    if (absl::StartsWith(text, "250 2.0.0 OK <")) {
      ++accepted;
    } else if (absl::StartsWith(text, "452 4.3.1 ")) {
      ++refused;
    } else {
      ADD_FAILURE() << "unexpected reply: " << text;
    }
  }
  EXPECT_EQ(accepted + refused, 200u);
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(refused, 0u);  // 200 x 20 MiB is sixty times the budget
  // Nothing half-kept: exactly the accepted messages are in the log (and the spool).
  EXPECT_EQ(Receptions(), accepted);
  EXPECT_GE(Refusals("memory"), static_cast<double>(refused));
  EXPECT_EQ(Metric("volley_inject_memory_bytes"), 0);  // all given back
  // The peak: the process grew by a few copies of the budget (content, the stored copy,
  // RocksDB's write), not by the 4 GiB the clients sent.
  const int64_t peak = ProcStatus("VmHWM");
  std::cout << "flood: " << accepted << " accepted, " << refused << " refused; RSS " << rss_before
            << " -> peak " << peak << " bytes (budget " << budget << ")\n";
  if (kRssMeaningful) {
    EXPECT_LT(peak - rss_before, 8 * budget);
  }
}

TEST_F(LimitsTest, PerIpConnectionLimitsAnswer421AndExemptTheRelayNetworks) {
  Start("limits-ip",
        "[inject.smtp]\nrelay_networks = [\"127.0.0.1/32\"]\n"
        "[[inject.smtp.listener]]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_ip = 2\n"
        "[[inject.smtp.listener]]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_ip = 0\n"
        "max_connection_rate_per_ip = \"3/m\"\n");
  std::vector<std::unique_ptr<RawSmtpClient>> open;
  for (int i = 0; i < 2; ++i) {
    open.push_back(Connect("127.0.0.5"));
    ASSERT_NE(open.back(), nullptr);
    EXPECT_THAT(open.back()->ReadFinal(), StartsWith("220 "));
  }
  auto third = Connect("127.0.0.5");
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->ReadFinal(),
            "421 4.7.0 volley.localdomain Error: too many connections from 127.0.0.5");
  EXPECT_TRUE(third->ReadsEof());
  // Another address, and the exempt relay network, are not held back.
  auto other = Connect("127.0.0.6");
  ASSERT_NE(other, nullptr);
  EXPECT_THAT(other->ReadFinal(), StartsWith("220 "));
  std::vector<std::unique_ptr<RawSmtpClient>> exempt;
  for (int i = 0; i < 4; ++i) {
    exempt.push_back(Connect("127.0.0.1"));
    ASSERT_NE(exempt.back(), nullptr);
    EXPECT_THAT(exempt.back()->ReadFinal(), StartsWith("220 "));
  }
  // When one leaves, the address may connect again.
  EXPECT_EQ(open[0]->Command("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(open[0]->ReadsEof());
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    auto again = Connect("127.0.0.5");
    admitted = again != nullptr && absl::StartsWith(again->ReadFinal(), "220 ");
    if (!admitted) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(admitted);
  // The second listener: three new connections a minute from one address.
  for (int i = 0; i < 3; ++i) {
    auto c = Connect("127.0.0.7", 1);
    ASSERT_NE(c, nullptr);
    EXPECT_THAT(c->ReadFinal(), StartsWith("220 ")) << i;
  }
  auto fourth = Connect("127.0.0.7", 1);
  ASSERT_NE(fourth, nullptr);
  EXPECT_EQ(fourth->ReadFinal(),
            "421 4.7.0 volley.localdomain Error: too many new connections from 127.0.0.7, slow "
            "down");
  EXPECT_GE(Refusals("connections_per_ip"), 1);
  EXPECT_EQ(Refusals("connection_rate_per_ip"), 1);
}

TEST_F(LimitsTest, BackpressureHoldsRepliesThenRefusesWith421) {
  Start("limits-backpressure",
        "[inject]\nmax_queued_recipients = 5\n[inject.smtp]\nlisten = \"127.0.0.1:0\"\n");
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->ReadFinal(), StartsWith("220 "));
  c->Ehlo();
  std::vector<absl::Duration> took;
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(c->Command("MAIL FROM:<bp@client.test>"), StartsWith("250 ")) << i;
    ASSERT_THAT(c->Command(absl::StrCat("RCPT TO:<bp", i, "@example.test>")), StartsWith("250 "));
    ASSERT_THAT(c->Command("DATA"), StartsWith("354"));
    const absl::Time start = absl::Now();
    EXPECT_THAT(c->Command("Subject: bp\r\n\r\nhi\r\n."), StartsWith("250 2.0.0 OK <")) << i;
    took.push_back(absl::Now() - start);
  }
  // The fifth filled the queue to its bound: its reply was held for the longest hold.
  EXPECT_GE(took[4], absl::Milliseconds(900));
  // And now the queue is full: a new transaction is refused and the connection closed.
  EXPECT_EQ(c->Command("MAIL FROM:<bp@client.test>"),
            "421 4.3.2 volley.localdomain Service busy: the queue is full, try again later");
  EXPECT_TRUE(c->ReadsEof());
  EXPECT_EQ(Refusals("backpressure"), 1);
  EXPECT_GE(Refusals("backpressure_held"), 1);
  EXPECT_EQ(Receptions(), 5u);
}

}  // namespace
}  // namespace volley
