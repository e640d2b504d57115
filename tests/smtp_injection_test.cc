// The injection listener over real sockets: the replies a platform sees for good and bad
// input, and that bad input loses nothing and keeps the session usable.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::LogEntry;
using test_support::ReadDeliveryLog;
using test_support::ReadFileOrEmpty;
using test_support::TestTempDir;
using test_support::VolleydProcess;

using test_support::RawSmtpClient;

class InjectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(absl::StrCat(TestTempDir(), "/injection"));
    std::filesystem::remove_all(*dir_);
    std::filesystem::create_directories(*dir_);
    const std::string config_path = absl::StrCat(*dir_, "/volley.toml");
    std::ofstream config(config_path);
    // Only 127.0.0.1 may relay; 127.0.0.2 is "the internet". Mail goes to a port where
    // nothing listens (and is retried much later), so nothing leaves loopback.
    config << "[server]\nthreads = 2\nspool = \"" << *dir_ << "/spool\"\nlog = \"" << *dir_
           << "/delivery.jsonl\"\n"
           << "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\nrelay_networks = [\"127.0.0.1/32\"]\n"
           << "max_message_size = \"10KiB\"\nmax_recipients = 3\n"
           << "[http]\nlisten = \"127.0.0.1:0\"\n"
           << "[dns]\nservers = [\"127.0.0.1:9\"]\n"
           << "[delivery]\nretry_initial = \"1h\"\n"
           << "[routes]\n\"example.test\" = { host = \"127.0.0.1:9\" }\n";
    config.close();
    auto process = VolleydProcess::Start(config_path, absl::StrCat(*dir_, "/volleyd.log"));
    ASSERT_TRUE(process.ok()) << process.status();
    volleyd_ = process->release();
  }

  static void TearDownTestSuite() {
    delete volleyd_;
    delete dir_;
  }

  static std::unique_ptr<RawSmtpClient> Connect(const std::string& source_ip = "127.0.0.1") {
    return RawSmtpClient::Connect("127.0.0.1", volleyd_->smtp_port(), source_ip);
  }

  static std::string* dir_;
  static VolleydProcess* volleyd_;
};

std::string* InjectionTest::dir_ = nullptr;
VolleydProcess* InjectionTest::volleyd_ = nullptr;

TEST_F(InjectionTest, GreetingEhloAndAcceptedMessage) {
  std::unique_ptr<RawSmtpClient> c = Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "220 ")) << "greeting";
  const std::string ehlo = absl::StrJoin(c->Ehlo(), "\n");
  for (const char* keyword : {"PIPELINING", "SIZE 10240", "8BITMIME", "ENHANCEDSTATUSCODES"}) {
    EXPECT_TRUE(absl::StrContains(ehlo, keyword)) << ehlo;
  }
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<a@client.test> SIZE=100"), "250 2.1.0"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<r@example.test>"), "250 2.1.5"));
  EXPECT_TRUE(absl::StartsWith(c->Command("DATA"), "354"));
  const std::string ok = c->Command("Subject: hi\r\n\r\nbody\r\n.");
  EXPECT_TRUE(absl::StartsWith(ok, "250 2.0.0 OK <")) << ok;
  EXPECT_EQ(ok.size(), std::string("250 2.0.0 OK <0123456789abcdef>").size()) << ok;
  EXPECT_TRUE(absl::StartsWith(c->Command("QUIT"), "221"));
}

TEST_F(InjectionTest, PipelinedMessagesGetRepliesInOrder) {
  std::unique_ptr<RawSmtpClient> c = Connect();
  ASSERT_NE(c, nullptr);
  c->ReadFinal();
  c->Command("EHLO client.test");
  c->Send(
      "MAIL FROM:<a@client.test>\r\nRCPT TO:<x@example.test>\r\nRCPT TO:<y@example.test>\r\n"
      "DATA\r\nSubject: one\r\n\r\n..dot\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<z@example.test>\r\n"
      "DATA\r\nSubject: two\r\n\r\nbody\r\n.\r\nNOOP\r\n");
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "250 2.1.0"));
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "250 2.1.5"));
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "250 2.1.5"));
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "354"));
  const std::string first = c->ReadFinal();
  EXPECT_TRUE(absl::StartsWith(first, "250 2.0.0 OK <")) << first;
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "250 2.1.0"));
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "250 2.1.5"));
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "354"));
  const std::string second = c->ReadFinal();
  EXPECT_TRUE(absl::StartsWith(second, "250 2.0.0 OK <")) << second;
  EXPECT_NE(first, second);
  EXPECT_TRUE(absl::StartsWith(c->ReadFinal(), "250"));  // NOOP
}

TEST_F(InjectionTest, SyntaxAndSequenceErrorsKeepTheSessionUsable) {
  std::unique_ptr<RawSmtpClient> c = Connect();
  ASSERT_NE(c, nullptr);
  c->ReadFinal();
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<a@client.test>"), "503 5.5.1"));
  c->Command("EHLO client.test");
  EXPECT_TRUE(absl::StartsWith(c->Command("FROB"), "500 5.5.2"));
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:bad-address"), "501"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<r@example.test>"), "503 5.5.1"));
  EXPECT_TRUE(absl::StartsWith(c->Command("DATA"), "503 5.5.1"));
  EXPECT_TRUE(absl::StartsWith(c->Command(std::string(1200, 'A')), "500 5.5.6"));
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<a@client.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<a@client.test>"), "503 5.5.1"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<1@example.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<2@example.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<3@example.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<4@example.test>"), "452 4.5.3"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RSET"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("NOOP"), "250"));
}

TEST_F(InjectionTest, OversizedMessagesAreRefusedAndNotQueued) {
  std::unique_ptr<RawSmtpClient> c = Connect();
  ASSERT_NE(c, nullptr);
  c->ReadFinal();
  c->Command("EHLO client.test");
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<a@client.test> SIZE=999999"), "552 5.3.4"));
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<big@client.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<big@example.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("DATA"), "354"));
  std::string big = "Subject: big\r\n\r\n";
  for (int i = 0; i < 200; ++i) big += std::string(100, 'b') + "\r\n";
  EXPECT_TRUE(absl::StartsWith(c->Command(big + "."), "552 5.3.4"));
  // The session goes on: a small message after the refused one is accepted.
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<a@client.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<small@example.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("DATA"), "354"));
  const std::string small_ok = c->Command("Subject: small\r\n\r\nbody\r\n.");
  ASSERT_TRUE(absl::StartsWith(small_ok, "250 2.0.0 OK <")) << small_ok;
  // One session's records reach the log in the order it made them (one shard thread, one log
  // queue), so once the small message's Reception is in the file, a Reception for big@ would
  // be there too: the log has caught up past the refusal.
  const std::string log_path = absl::StrCat(*dir_, "/delivery.jsonl");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool small_logged = false;
  while (!small_logged && absl::Now() < deadline) {
    for (const LogEntry& e : ReadDeliveryLog(log_path)) {
      if (e.type == "Reception" && e.recipient == "small@example.test") small_logged = true;
    }
    if (!small_logged) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(small_logged) << "no Reception for small@example.test in:\n"
                            << ReadFileOrEmpty(log_path);
  // Nothing of the refused message was logged as received.
  EXPECT_FALSE(absl::StrContains(ReadFileOrEmpty(log_path), "big@example.test"));
}

TEST_F(InjectionTest, RelayingIsDeniedOutsideRelayNetworks) {
  std::unique_ptr<RawSmtpClient> c = Connect("127.0.0.2");
  ASSERT_NE(c, nullptr);
  c->ReadFinal();
  c->Command("EHLO outsider.test");
  EXPECT_TRUE(absl::StartsWith(c->Command("MAIL FROM:<a@outsider.test>"), "250"));
  EXPECT_TRUE(absl::StartsWith(c->Command("RCPT TO:<r@example.test>"), "550 5.7.1"));
  EXPECT_TRUE(absl::StartsWith(c->Command("DATA"), "554 5.5.1"));
}

}  // namespace
}  // namespace volley
