// max_age in every state a recipient can be in: in flight (a transaction that fails after the
// deadline), ready (waiting behind a slow connection), and scheduled in the spool (read back
// by a restarted engine whose max_age was shortened meanwhile). Each ends in an Expiration
// record and a MessageExpired bounce, with no further attempt, and leaves the spool.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::EntriesFor;
using test_support::HttpGet;
using test_support::LogEntry;
using test_support::MetricValue;
using test_support::RunVolleyd;
using test_support::TestTempDir;
using test_support::TypesFor;
using test_support::VolleydProcess;
using test_support::WaitForFinalRecords;

const std::vector<std::string> kExpiredTypes = {"Reception", "Expiration", "Bounce"};

void WriteConfig(const std::string& dir, const std::string& delivery, uint16_t sink_port) {
  std::ofstream config(absl::StrCat(dir, "/volley.toml"));
  config << test_support::LoopbackConfig(absl::StrCat(dir, "/spool"),
                                         absl::StrCat(dir, "/delivery.jsonl"))
         << "[delivery]\n"
         // The sender's domain is not routed: the expiry notices are dsn_test's.
         << "dsn = false\n"
         << delivery << "[shaping.default]\nconnection_limit = 1\n"
         << "[routes]\n\"expiry.test\" = { host = \"127.0.0.1:" << sink_port << "\" }\n";
}

absl::Status Inject(uint16_t port, const std::vector<std::string>& recipients) {
  bench::InjectorOptions injector;
  injector.port = port;
  injector.connections = 1;
  auto injected = bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "bounces@volley.test";
        m.recipients = {recipients[i]};
        m.content = absl::StrCat("Subject: expiry ", i, "\r\n\r\nbody\r\n");
        return m;
      },
      recipients.size());
  if (!injected.ok()) return injected.status();
  for (const smtp::Reply& reply : injected->replies) {
    if (reply.code != 250) return absl::InternalError(reply.Text());
  }
  return absl::OkStatus();
}

// How many RCPT commands for `address` the sink has seen.
int RcptCount(const test_support::SmtpSink& sink, absl::string_view address) {
  int count = 0;
  for (const test_support::SessionTranscript& t : sink.Transcripts()) {
    for (const std::string& command : t.commands) {
      if (absl::StrContains(command, absl::StrCat("RCPT TO:<", address, ">"))) ++count;
    }
  }
  return count;
}

void ExpectSpoolEmpty(const std::string& dir) {
  auto check = RunVolleyd({absl::StrCat("--config=", dir, "/volley.toml"), "--spool-check"});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->exit_code, 0) << check->output;
  EXPECT_TRUE(absl::StrContains(check->output, "recipients:            0\n")) << check->output;
}

TEST(Expiry, InFlightAndReadyRecipientsExpireWithoutAnotherAttempt) {
  const std::string dir = absl::StrCat(TestTempDir(), "/inflight_ready");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Every reply of this site takes 1 s and it does not pipeline: the one connection allowed
  // starts its first transaction after ~2 s (greeting, EHLO) and gets the RCPT's 451 after
  // ~4 s (MAIL, RCPT), so the messages' 3 s max_age passes while it is in flight.
  test_support::SinkOptions sink_options;
  sink_options.record = true;
  sink_options.pipelining = false;
  sink_options.reply_delay = absl::Seconds(1);
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  WriteConfig(dir, "retry_initial = \"1s\"\nmax_age = \"3s\"\n", (*sink)->port());
  auto volleyd =
      VolleydProcess::Start(absl::StrCat(dir, "/volley.toml"), absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();

  // The first is in flight when the deadline passes and then fails transiently; the others
  // wait in the site's ready queue behind it until after their deadline.
  const std::vector<std::string> recipients = {"tempfail-first@expiry.test", "r1@expiry.test",
                                               "r2@expiry.test", "r3@expiry.test",
                                               "r4@expiry.test"};
  ASSERT_TRUE(Inject((*volleyd)->smtp_port(), recipients).ok());
  auto entries =
      WaitForFinalRecords(absl::StrCat(dir, "/delivery.jsonl"), recipients, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();

  for (const std::string& r : recipients) {
    EXPECT_EQ(TypesFor(*entries, r), kExpiredTypes) << r;
    const std::vector<LogEntry> own = EntriesFor(*entries, r);
    ASSERT_EQ(own.size(), 3u);
    EXPECT_EQ(own[1].classification, "MessageExpired") << r;
    EXPECT_EQ(own[2].classification, "MessageExpired") << r;
    EXPECT_EQ(own[2].code, 551) << r;
    EXPECT_EQ(own[2].enhanced, "5.4.7") << r;
  }
  // In flight: one attempt, its 451 named in the expiration.
  const std::vector<LogEntry> first = EntriesFor(*entries, recipients[0]);
  EXPECT_EQ(first[1].num_attempts, 1);
  EXPECT_EQ(first[1].code, 451);
  EXPECT_EQ(RcptCount(**sink, recipients[0]), 1);
  // Ready: never offered to the site.
  for (size_t i = 1; i < recipients.size(); ++i) {
    EXPECT_EQ(EntriesFor(*entries, recipients[i])[1].num_attempts, 0) << recipients[i];
    EXPECT_EQ(RcptCount(**sink, recipients[i]), 0) << recipients[i];
  }
  EXPECT_TRUE((*sink)->TakeMessages().empty());

  auto metrics = HttpGet("127.0.0.1", (*volleyd)->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(MetricValue(metrics->body, "volley_deliveries_total{outcome=\"expired\"}"), 5);
  EXPECT_EQ(MetricValue(metrics->body, "volley_queue_size{state=\"ready\"}"), 0);
  auto exit = (*volleyd)->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  ExpectSpoolEmpty(dir);
}

TEST(Expiry, AScheduledRetryReadFromTheSpoolExpiresUnderAShorterMaxAge) {
  const std::string dir = absl::StrCat(TestTempDir(), "/scheduled");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  test_support::SinkOptions sink_options;
  sink_options.record = true;
  auto sink = test_support::SmtpSink::Start(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::string log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string address = "tempfail-later@expiry.test";

  // First run: one attempt fails, the retry is scheduled 4 s out, and the engine stops.
  WriteConfig(dir, "retry_initial = \"4s\"\nretry_max = \"4s\"\nmax_age = \"1h\"\n",
              (*sink)->port());
  auto volleyd =
      VolleydProcess::Start(absl::StrCat(dir, "/volley.toml"), absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  const absl::Time injected = absl::Now();
  ASSERT_TRUE(Inject((*volleyd)->smtp_port(), {address}).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (TypesFor(test_support::ReadDeliveryLog(log_path), address).size() < 2 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(TypesFor(test_support::ReadDeliveryLog(log_path), address),
            (std::vector<std::string>{"Reception", "TransientFailure"}));
  auto exit = (*volleyd)->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_EQ(exit->exit_code, 0);

  // Second run with max_age 1 s, once the message is older than that: the retry comes back
  // from the spool's due-time index and expires when due, without an attempt.
  absl::SleepFor(injected + absl::Milliseconds(1500) - absl::Now());
  WriteConfig(dir, "retry_initial = \"4s\"\nretry_max = \"4s\"\nmax_age = \"1s\"\n",
              (*sink)->port());
  volleyd =
      VolleydProcess::Start(absl::StrCat(dir, "/volley.toml"), absl::StrCat(dir, "/volleyd2.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  auto entries = WaitForFinalRecords(log_path, {address}, absl::Seconds(20));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(TypesFor(*entries, address),
            (std::vector<std::string>{"Reception", "TransientFailure", "Expiration", "Bounce"}));
  const std::vector<LogEntry> own = EntriesFor(*entries, address);
  ASSERT_EQ(own.size(), 4u);
  EXPECT_EQ(own[2].num_attempts, 1);
  EXPECT_EQ(own[3].classification, "MessageExpired");
  EXPECT_EQ(RcptCount(**sink, address), 1);  // the first run's attempt only

  exit = (*volleyd)->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  ExpectSpoolEmpty(dir);
}

}  // namespace
}  // namespace volley
