// Volley delivering to a real Postfix (Debian's 3.7) on loopback: TLS required, with Postfix's
// own Received header on every delivered copy proving that it arrived over TLS; and the protocol
// variants Postfix lets us force (no PIPELINING with a server that rejects unauthorised
// pipelining, no CHUNKING). Postfix writes each message it received into a Maildir, and every
// test checks that each message sent arrived there exactly once, with the content sent.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/indexed_message.h"
#include "tests/support/postfix_maildir.h"
#include "tests/support/postfix_server.h"
#include "tests/support/volleyd_process.h"
#include "tls/testdata/testdata_paths.h"

namespace volley {
namespace {

using test_support::DeliveredMessage;
using test_support::PostfixOptions;
using test_support::PostfixServer;
using test_support::TestTempDir;
using test_support::VolleydProcess;

struct World {
  std::unique_ptr<PostfixServer> postfix;
  std::unique_ptr<VolleydProcess> volleyd;
  std::string log_path;
};

// Postfix with `options`, and volleyd routing "postfix.test" to it with the given TLS policy.
void StartWorld(const std::string& name, PostfixOptions options, const std::string& tls,
                World* world) {
  if (geteuid() != 0) GTEST_SKIP() << "the Postfix harness needs root";
  const std::string dir = absl::StrCat(TestTempDir(), "/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto postfix = PostfixServer::Start(absl::StrCat(dir, "/postfix"), options);
  ASSERT_TRUE(postfix.ok()) << postfix.status();
  world->postfix = std::move(*postfix);
  world->log_path = absl::StrCat(dir, "/delivery.jsonl");
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  std::ofstream config(config_path);
  config << "[server]\nthreads = 2\nspool = \"" << dir << "/spool\"\nlog = \"" << world->log_path
         << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
         << "[dns]\nservers = [\"127.0.0.1:9\"]\n"
         << "[shaping.default]\nconnection_limit = 4\nmax_deliveries_per_connection = 200\n"
         << "tls = \"" << tls << "\"\n"
         << "[routes]\n\"postfix.test\" = { host = \"" << world->postfix->address() << "\" }\n";
  config.close();
  auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  world->volleyd = std::move(*volleyd);
}

constexpr char kSender[] = "sender@volley.test";

std::string RecipientFor(absl::string_view tag, size_t index) {
  return absl::StrCat(tag, index, "@postfix.test");
}

// The body of message `index`, unstuffed with CRLF line ends as injected. Lines of dots test
// the dot-stuffing on the way (Volley's to Postfix with DATA, none with BDAT); the last line is
// the message's own, so that a body delivered with the wrong headers shows.
std::string BodyFor(size_t index) {
  return absl::StrCat(".a line with a leading dot\r\n.\r\n..\r\nbody ", index, "\r\n");
}

absl::StatusOr<bench::InjectResult> Inject(const World& world, size_t count,
                                           absl::string_view tag) {
  bench::InjectorOptions injector;
  injector.port = world.volleyd->smtp_port();
  injector.connections = 8;
  return bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = kSender;
        m.recipients = {RecipientFor(tag, i)};
        m.content = absl::StrCat("From: <", kSender, ">\r\nSubject: ", tag, " ", i, "\r\n",
                                 test_support::IndexHeader(i), "\r\n", BodyFor(i));
        return m;
      },
      count);
}

std::vector<std::string> Recipients(size_t count, absl::string_view tag) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) out.push_back(RecipientFor(tag, i));
  return out;
}

// Whether `m` is the copy of the message Inject sent as number `index` under `tag`, delivered
// over TLS exactly when `over_tls`. Postfix writes LF line ends.
::testing::AssertionResult IsAsSent(const DeliveredMessage& m, absl::string_view tag, size_t index,
                                    bool over_tls) {
  const std::string recipient = RecipientFor(tag, index);
  const std::string body = absl::StrReplaceAll(BodyFor(index), {{"\r\n", "\n"}});
  if (m.recipient != recipient || m.original_recipient != recipient || m.sender != kSender ||
      m.Header("Subject") != absl::StrCat(tag, " ", index) || m.Body() != body ||
      m.tls != over_tls) {
    return ::testing::AssertionFailure()
           << "not message " << index << " as sent (to " << recipient << ", "
           << (over_tls ? "over TLS" : "without TLS") << "):\n"
           << m.content;
  }
  return ::testing::AssertionSuccess();
}

// Waits until Postfix has delivered `count` files and its queue is empty, then expects exactly
// one copy of each message Inject sent under `tag`, as sent. Call it once volleyd has logged a
// final record for every recipient.
void ExpectEachDeliveredOnceAsSent(const PostfixServer& postfix, size_t count,
                                   absl::string_view tag, bool over_tls) {
  const absl::Status arrived = postfix.WaitForDelivered(static_cast<int>(count), absl::Seconds(60));
  ASSERT_TRUE(arrived.ok()) << arrived;
  absl::StatusOr<std::vector<DeliveredMessage>> delivered = postfix.Delivered();
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  ASSERT_EQ(delivered->size(), count);
  std::vector<int> copies(count, 0);
  int wrong = 0;
  for (const DeliveredMessage& m : *delivered) {
    size_t index = 0;
    ASSERT_TRUE(absl::SimpleAtoi(m.Header("X-Index"), &index) && index < count) << m.content;
    ++copies[index];
    const ::testing::AssertionResult as_sent = IsAsSent(m, tag, index, over_tls);
    // The first few are enough to see what went wrong; the count says how far it goes.
    if (!as_sent && ++wrong <= 5) ADD_FAILURE() << as_sent.message();
  }
  EXPECT_EQ(wrong, 0) << "of " << count << " delivered copies differ from what was sent";
  for (size_t i = 0; i < count; ++i) EXPECT_EQ(copies[i], 1) << "copies of message " << i;
}

TEST(PostfixDelivery, TwoThousandMessagesAllOverRequiredTls) {
  PostfixOptions options;
  options.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  options.tls_key_file = tls::TlsTestDataPath("mx.key");
  options.require_tls = true;
  World world;
  StartWorld("postfix-tls", options, "required", &world);
  if (world.volleyd == nullptr) return;

  constexpr size_t kMessages = 2000;
  auto injected = Inject(world, kMessages, "tls");
  ASSERT_TRUE(injected.ok()) << injected.status();
  ASSERT_EQ(injected->accepted, kMessages);

  auto entries = test_support::WaitForFinalRecords(world.log_path, Recipients(kMessages, "tls"),
                                                   absl::Seconds(120));
  ASSERT_TRUE(entries.ok()) << entries.status();
  // What Postfix wrote into its Maildir: each message exactly once, as sent, and every one
  // over TLS (smtpd_tls_security_level = encrypt refuses MAIL before STARTTLS anyway).
  ASSERT_NO_FATAL_FAILURE(
      ExpectEachDeliveredOnceAsSent(*world.postfix, kMessages, "tls", /*over_tls=*/true));
  int deliveries = 0;
  for (const test_support::LogEntry& e : *entries) {
    if (e.type != "Delivery") continue;
    ++deliveries;
    EXPECT_TRUE(e.tls_version == "TLSv1.3" || e.tls_version == "TLSv1.2") << e.raw.dump();
    EXPECT_FALSE(e.tls_cipher.empty());
    EXPECT_EQ(e.code, 250);
    EXPECT_EQ(e.command, "BDAT") << "Postfix 3.7 offers CHUNKING";
  }
  EXPECT_EQ(deliveries, static_cast<int>(kMessages));
  auto exit = world.volleyd->Terminate();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 0);
}

TEST(PostfixDelivery, LockStepWithAServerThatRejectsUnauthorisedPipelining) {
  PostfixOptions options;
  // No PIPELINING (nor CHUNKING) offered, and DATA refused to a client that pipelines anyway.
  options.extra_main_cf = {"smtpd_discard_ehlo_keywords = pipelining, chunking",
                           "smtpd_data_restrictions = reject_unauth_pipelining"};
  World world;
  StartWorld("postfix-lockstep", options, "disabled", &world);
  if (world.volleyd == nullptr) return;
  auto injected = Inject(world, 50, "lock");
  ASSERT_TRUE(injected.ok()) << injected.status();
  auto entries =
      test_support::WaitForFinalRecords(world.log_path, Recipients(50, "lock"), absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const std::string& r : Recipients(50, "lock")) {
    EXPECT_EQ(test_support::TypesFor(*entries, r),
              (std::vector<std::string>{"Reception", "Delivery"}))
        << r;
  }
  ASSERT_NO_FATAL_FAILURE(
      ExpectEachDeliveredOnceAsSent(*world.postfix, 50, "lock", /*over_tls=*/false));
  // A second opinion from Postfix's log, which may lack lines: had Volley pipelined, Postfix
  // would have refused its DATA, and the records above would say so.
  EXPECT_EQ(world.postfix->ReadLog().find("improper command pipelining"), std::string::npos);
}

TEST(PostfixDelivery, DataInsteadOfBdatWhenChunkingIsNotOffered) {
  PostfixOptions options;
  options.extra_main_cf = {"smtpd_discard_ehlo_keywords = chunking"};
  World world;
  StartWorld("postfix-data", options, "opportunistic", &world);
  if (world.volleyd == nullptr) return;
  auto injected = Inject(world, 100, "data");
  ASSERT_TRUE(injected.ok()) << injected.status();
  auto entries =
      test_support::WaitForFinalRecords(world.log_path, Recipients(100, "data"), absl::Seconds(60));
  ASSERT_TRUE(entries.ok()) << entries.status();
  int deliveries = 0;
  for (const test_support::LogEntry& e : *entries) {
    if (e.type != "Delivery") continue;
    ++deliveries;
    EXPECT_EQ(e.command, ".");  // the reply to the end of DATA, not to BDAT
    EXPECT_TRUE(e.tls_version.empty()) << "Postfix offers no STARTTLS here";
  }
  EXPECT_EQ(deliveries, 100);
  ASSERT_NO_FATAL_FAILURE(
      ExpectEachDeliveredOnceAsSent(*world.postfix, 100, "data", /*over_tls=*/false));
}

}  // namespace
}  // namespace volley
