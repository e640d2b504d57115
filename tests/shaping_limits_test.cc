// Limits that are not one site's alone, as receiving servers see them: a provider's connection
// limit shared by the sites it takes, a named limit shared by two domains, a provider's message
// rate held across shards, and each egress source's own connection limit. Real volleyd (four
// shards, so that sites live on different ones), real unbound, real sinks on 127.0.0.x.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/arrival_times.h"
#include "tests/support/delivery_log.h"
#include "tests/support/inject_each.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/unbound_server.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::LogEntry;
using test_support::MostConcurrentSessions;
using test_support::VolleydProcess;

class ShapingLimits : public ::testing::Test {
 protected:
  // Sinks on `addresses`, replies delayed so that connections stay open a while; each of
  // `domains` has the MX host mx.DOMAIN with the address of the same index.
  void StartWorld(const std::string& name, const std::vector<std::string>& domains,
                  const std::vector<std::string>& addresses) {
    dir_ = test_support::FreshTestDir(name);
    test_support::SinkOptions sink_options;
    sink_options.addresses = addresses;
    sink_options.record = true;
    sink_options.reply_delay = absl::Milliseconds(5);
    sink_options.on_message = [this](const bench::ReceivedMessage&) { arrivals_.Add(); };
    auto sink = test_support::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = *std::move(sink);
    std::vector<test_support::DnsRecord> records;
    for (size_t i = 0; i < domains.size(); ++i) {
      records.push_back({domains[i], "MX", absl::StrCat("10 mx.", domains[i], ".")});
      records.push_back({absl::StrCat("mx.", domains[i]), "A", addresses[i]});
    }
    auto unbound = test_support::UnboundServer::Start(absl::StrCat(dir_, "/unbound"), records);
    ASSERT_TRUE(unbound.ok()) << unbound.status();
    unbound_ = *std::move(unbound);
  }

  void StartVolleyd(const std::string& tables) {
    log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
    const std::string config_path = absl::StrCat(dir_, "/volley.toml");
    std::ofstream(config_path) << "[server]\nthreads = 4\nspool = \"" << dir_
                               << "/spool\"\nlog = \"" << log_path_
                               << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n"
                               << "[http]\nlisten = \"127.0.0.1:0\"\n[dns]\nservers = [\""
                               << unbound_->address() << "\"]\n[delivery]\nport = " << sink_->port()
                               << "\n"
                               << tables;
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = *std::move(volleyd);
  }

  // `per_domain` messages to each domain, one recipient each; waits for every final record
  // and returns the log.
  std::vector<LogEntry> Deliver(const std::vector<std::string>& domains, int per_domain) {
    std::vector<std::string> recipients;
    for (int i = 0; i < per_domain; ++i) {
      for (const std::string& domain : domains) {
        recipients.push_back(absl::StrCat("u", i, "@", domain));
      }
    }
    auto accepted = test_support::InjectEach(volleyd_->smtp_port(), recipients);
    EXPECT_TRUE(accepted.ok()) << accepted.status();
    auto entries = test_support::WaitForFinalRecords(log_path_, recipients, absl::Seconds(90));
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return {};
    int delivered = 0;
    for (const LogEntry& e : *entries) delivered += e.type == "Delivery";
    EXPECT_EQ(delivered, static_cast<int>(recipients.size()));
    return *entries;
  }

  std::string dir_;
  std::string log_path_;
  test_support::ArrivalTimes arrivals_;
  std::unique_ptr<test_support::SmtpSink> sink_;
  std::unique_ptr<test_support::UnboundServer> unbound_;
  std::unique_ptr<VolleydProcess> volleyd_;
};

constexpr absl::string_view kNoRates =
    "[shaping.default]\nmax_message_rate = \"\"\nmax_connection_rate = \"\"\n"
    "max_deliveries_per_connection = 5\n";

TEST_F(ShapingLimits, ProviderConnectionLimitIsSharedByItsSites) {
  const std::vector<std::string> domains = {"p1.test", "p2.test", "p3.test", "p4.test"};
  StartWorld("provider", domains, {"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"});
  // Each site may have 10; the provider takes all four and allows 3 in all.
  StartVolleyd(absl::StrCat(kNoRates, "connection_limit = 10\n",
                            "[shaping.provider.\"prov\"]\nmatch = [\"MXSuffix=.test\"]\n"
                            "connection_limit = 3\n"));
  Deliver(domains, 40);
  const auto transcripts = sink_->Transcripts();
  const int most = MostConcurrentSessions(transcripts);
  std::cout << "provider connection_limit 3: at most " << most << " sessions at once over "
            << transcripts.size() << "\n";
  EXPECT_LE(most, 3);
  EXPECT_GE(most, 2) << "the limit should be used, not undershot to one";
  for (const char* address : {"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"}) {
    EXPECT_GT(sink_->connection_stats(address).accepted, 0u) << address;
  }
}

TEST_F(ShapingLimits, NamedConnectionLimitIsSharedByTwoDomains) {
  const std::vector<std::string> domains = {"a.test", "b.test", "c.test"};
  StartWorld("named", domains, {"127.0.0.21", "127.0.0.22", "127.0.0.23"});
  StartVolleyd(absl::StrCat(kNoRates,
                            "[shaping.\"a.test\"]\nadditional_connection_limits = { pair = 2 }\n"
                            "[shaping.\"b.test\"]\nadditional_connection_limits = { pair = 2 }\n"));
  Deliver(domains, 40);
  const auto transcripts = sink_->Transcripts();
  std::vector<test_support::SessionTranscript> pair;
  for (const auto& t : transcripts) {
    if (t.local_address != "127.0.0.23") pair.push_back(t);
  }
  const int most_pair = MostConcurrentSessions(pair);
  std::cout << "named limit 2 over a.test and b.test: at most " << most_pair << " at once\n";
  EXPECT_LE(most_pair, 2);
  EXPECT_GT(sink_->connection_stats("127.0.0.21").accepted, 0u);
  EXPECT_GT(sink_->connection_stats("127.0.0.22").accepted, 0u);
  // c.test does not draw from it: its own limit (10) lets it open more than two at once.
  std::vector<test_support::SessionTranscript> other;
  for (const auto& t : transcripts) {
    if (t.local_address == "127.0.0.23") other.push_back(t);
  }
  EXPECT_GT(MostConcurrentSessions(other), 2);
}

TEST_F(ShapingLimits, ProviderMessageRateHoldsAcrossShards) {
  const std::vector<std::string> domains = {"r1.test", "r2.test", "r3.test", "r4.test"};
  StartWorld("provider_rate", domains, {"127.0.0.31", "127.0.0.32", "127.0.0.33", "127.0.0.34"});
  StartVolleyd(absl::StrCat(kNoRates, "[shaping.provider.\"prov\"]\nmatch = [\"MXSuffix=.test\"]\n",
                            "max_message_rate = \"100/s,max_burst=10\"\n"));
  Deliver(domains, 100);
  const std::vector<absl::Time> arrivals = arrivals_.Sorted();
  ASSERT_EQ(arrivals.size(), 400u);
  const double seconds = absl::ToDoubleSeconds(arrivals.back() - arrivals[9]);
  const double rate = (400 - 10) / seconds;
  // Events leased to a shard are spent within SharedLimits::kRateLeaseTtl (50 ms = 5 intervals)
  // of being granted; the network adds a little.
  const size_t most = test_support::MostInAnyWindow(arrivals, absl::Seconds(1));
  std::cout << "provider 100/s over 4 sites: " << rate << " msg/s, at most " << most
            << " in any second\n";
  EXPECT_LE(rate, 100 * 1.1);
  EXPECT_GE(rate, 100 * 0.8);
  EXPECT_LE(most, 100u + 10 - 1 + 5 + 2);
}

TEST_F(ShapingLimits, EachEgressSourceHasItsOwnConnectionLimit) {
  const std::vector<std::string> domains = {"src.test"};
  StartWorld("sources", domains, {"127.0.0.41"});
  StartVolleyd(
      absl::StrCat("[egress.two]\nsources = [{ address = \"127.0.0.2\", name = \"s1\" }, "
                   "{ address = \"127.0.0.3\", name = \"s2\" }]\n",
                   kNoRates, "egress_pool = \"two\"\nconnection_limit = 5\n",
                   "[shaping.source.\"s1\"]\nconnection_limit = 1\n",
                   "[shaping.\"src.test\".source.\"s2\"]\nconnection_limit = 2\n"));
  const std::vector<LogEntry> entries = Deliver(domains, 80);
  const auto transcripts = sink_->Transcripts();
  const int s1 = MostConcurrentSessions(transcripts, "127.0.0.2");
  const int s2 = MostConcurrentSessions(transcripts, "127.0.0.3");
  std::cout << "per source: s1 (limit 1) " << s1 << ", s2 (limit 2) " << s2 << "\n";
  EXPECT_EQ(s1, 1);
  EXPECT_LE(s2, 2);
  EXPECT_GE(s2, 1);
  int from_s1 = 0, from_s2 = 0;
  for (const LogEntry& e : entries) {
    if (e.type != "Delivery") continue;
    EXPECT_EQ(e.egress_pool, "two");
    from_s1 += e.egress_source == "s1";
    from_s2 += e.egress_source == "s2";
  }
  EXPECT_GT(from_s1, 0);
  EXPECT_GT(from_s2, 0);
  EXPECT_EQ(from_s1 + from_s2, 80);
}

}  // namespace
}  // namespace volley
