// The delivery client over DNS (a real unbound): failover between MX hosts, and an MX host
// reached over IPv6.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/smtp_injector.h"
#include "engine/smtp/reply.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/unbound_server.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::EntriesFor;
using test_support::LogEntry;
using test_support::TestTempDir;
using test_support::VolleydProcess;
using test_support::WaitForFinalRecords;

// Two MX hosts on two sinks: the preferred one refuses at the greeting (421). Delivery moves to
// the second, and the refusing host is then skipped instead of being tried for every message.
TEST(ClientFailover, GreetingRefusedMovesOnAndTheHostIsSkippedAfterwards) {
  const std::string dir = absl::StrCat(TestTempDir(), "/failover");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  test_support::SinkOptions refusing;
  refusing.addresses = {"127.0.0.2"};
  refusing.greeting = smtp::MakeReply(421, "4.3.2", "busy, come back later");
  auto first = test_support::SmtpSink::Start(refusing);
  ASSERT_TRUE(first.ok()) << first.status();
  test_support::SinkOptions working;
  working.addresses = {"127.0.0.3"};
  working.port = (*first)->port();
  working.record = true;
  auto second = test_support::SmtpSink::Start(working);
  ASSERT_TRUE(second.ok()) << second.status();

  auto unbound = test_support::UnboundServer::Start(
      absl::StrCat(dir, "/unbound"), {{"failover.test", "MX", "10 mx1.failover.test."},
                                      {"failover.test", "MX", "20 mx2.failover.test."},
                                      {"mx1.failover.test", "A", "127.0.0.2"},
                                      {"mx2.failover.test", "A", "127.0.0.3"}});
  ASSERT_TRUE(unbound.ok()) << unbound.status();
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << "[server]\nthreads = 1\nspool = \"" << dir << "/spool\"\nlog = \"" << log_path
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"" << (*unbound)->address() << "\"]\n"
           << "[delivery]\nport = " << (*first)->port() << "\nretry_initial = \"1h\"\n"
           << "[shaping.default]\nconnection_limit = 1\nmax_deliveries_per_connection = 1\n";
  }
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  std::vector<std::string> recipients;
  for (int i = 0; i < 10; ++i) recipients.push_back(absl::StrCat("f", i, "@failover.test"));
  bench::InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  injector.connections = 1;
  auto injected = bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "s@volley.test";
        m.recipients = {recipients[i]};
        m.content = "Subject: f\r\n\r\nf\r\n";
        return m;
      },
      recipients.size());
  ASSERT_TRUE(injected.ok());
  auto entries = WaitForFinalRecords(log_path, recipients, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const std::string& r : recipients) {
    const std::vector<LogEntry> mine = EntriesFor(*entries, r);
    EXPECT_EQ(mine.back().type, "Delivery") << r;
    EXPECT_EQ(mine.back().peer_address, "127.0.0.3") << r;
  }
  // Ten connections were opened (one message each); the refusing host saw only the first.
  EXPECT_EQ((*first)->connection_stats("127.0.0.2").accepted, 1u);
  EXPECT_EQ((*second)->connection_stats("127.0.0.3").accepted, 10u);
}

// Whether [::1] can be bound: some containers and CI hosts have no IPv6 loopback, and there the
// test is skipped, as the Ipv6 test of engine/inject/smtp_listener_session_test.cc is.
bool Ipv6LoopbackAvailable() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return bound;
}

// An MX host with only an AAAA record: delivered over IPv6.
TEST(ClientIpv6, DeliversToAnIpv6OnlyMxHost) {
  if (!Ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback here";
  const std::string dir = absl::StrCat(TestTempDir(), "/ipv6");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  test_support::SinkOptions sink_options;
  sink_options.addresses = {"::1"};
  sink_options.record = true;
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto unbound = test_support::UnboundServer::Start(
      absl::StrCat(dir, "/unbound"),
      {{"v6.test", "MX", "10 mx.v6.test."}, {"mx.v6.test", "AAAA", "::1"}});
  ASSERT_TRUE(unbound.ok()) << unbound.status();
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  {
    std::ofstream config(config_path);
    config << "[server]\nthreads = 1\nspool = \"" << dir << "/spool\"\nlog = \"" << log_path
           << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"" << (*unbound)->address() << "\"]\n"
           << "[delivery]\nport = " << (*sink)->port() << "\n";
  }
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  bench::InjectorOptions injector;
  injector.port = (*volleyd)->smtp_port();
  auto injected = bench::InjectAll(
      injector,
      [](size_t) {
        bench::InjectMessage m;
        m.mail_from = "s@volley.test";
        m.recipients = {"six@v6.test"};
        m.content = "Subject: v6\r\n\r\nover IPv6\r\n";
        return m;
      },
      1);
  ASSERT_TRUE(injected.ok());
  auto entries = WaitForFinalRecords(log_path, {"six@v6.test"}, absl::Seconds(20));
  ASSERT_TRUE(entries.ok()) << entries.status();
  const LogEntry delivery = EntriesFor(*entries, "six@v6.test").back();
  EXPECT_EQ(delivery.type, "Delivery");
  EXPECT_EQ(delivery.peer_address, "::1");
  EXPECT_EQ(delivery.site, "mx.v6.test");
  std::vector<test_support::ReceivedMessage> got = (*sink)->TakeMessages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].local_address, "::1");
}

}  // namespace
}  // namespace volley
