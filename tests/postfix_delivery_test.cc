// Volley delivering to a real Postfix (Debian's 3.7) on loopback: TLS required, with Postfix's
// own log proving that every message arrived over TLS; and the protocol variants Postfix lets
// us force (no PIPELINING with a server that rejects unauthorised pipelining, no CHUNKING).
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/postfix_server.h"
#include "tests/support/volleyd_process.h"
#include "tls/testdata/testdata_paths.h"

namespace volley {
namespace {

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

absl::StatusOr<bench::InjectResult> Inject(const World& world, size_t count,
                                           absl::string_view tag) {
  bench::InjectorOptions injector;
  injector.port = world.volleyd->smtp_port();
  injector.connections = 8;
  const std::string prefix(tag);
  return bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "sender@volley.test";
        m.recipients = {absl::StrCat(prefix, i, "@postfix.test")};
        m.content = absl::StrCat("From: <sender@volley.test>\r\nSubject: ", prefix, " ", i,
                                 "\r\n\r\n.a line with a leading dot\r\nbody ", i, "\r\n");
        return m;
      },
      count);
}

std::vector<std::string> Recipients(size_t count, absl::string_view tag) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) out.push_back(absl::StrCat(tag, i, "@postfix.test"));
  return out;
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
  const absl::Status queued = world.postfix->WaitForMessages(kMessages, absl::Seconds(60));
  ASSERT_TRUE(queued.ok()) << queued;
  // Postfix's own log: every message was queued, over TLS (smtpd_tls_security_level =
  // encrypt refuses MAIL before STARTTLS anyway). Postfix's logging drops a line now and then
  // when its log server lags (PostfixServer::Messages), so the count of messages whose one
  // TLS line made it into the log may fall a little short, under sanitizers mostly.
  EXPECT_EQ(world.postfix->MessagesAccepted(), static_cast<int>(kMessages));
  EXPECT_GE(world.postfix->MessagesOverTls(), static_cast<int>(kMessages) * 99 / 100);
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
  const absl::Status queued = world.postfix->WaitForMessages(50, absl::Seconds(30));
  EXPECT_TRUE(queued.ok()) << queued;
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
}

}  // namespace
}  // namespace volley
