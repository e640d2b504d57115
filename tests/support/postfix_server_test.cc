#include "tests/support/postfix_server.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/shell.h"
#include "tls/testdata/testdata_paths.h"

namespace volley::test_support {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Key;
using ::testing::Not;
using ::testing::StartsWith;

// Sends over SMTP with smtplib. Modes: "tls" (STARTTLS, then one message), "plain" (one message
// without TLS), "mail-without-tls" (prints the reply to MAIL FROM and quits).
constexpr char kSendScript[] = R"PY(
import smtplib, sys
port, mode, sender = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.volley.test", timeout=20)
s.ehlo()
if mode == "tls":
    if not s.has_extn("starttls"):
        print("NO-STARTTLS")
        sys.exit(2)
    s.starttls()  # smtplib's default context does not verify the certificate
    s.ehlo()
if mode == "mail-without-tls":
    code, text = s.mail(sender)
    print(code, text.decode())
    s.quit()
    sys.exit(0)
body = ("From: <%s>\r\nTo: <one@example.test>\r\nSubject: %s\r\n\r\nhello from %s\r\n"
        % (sender, mode, sender))
refused = s.sendmail(sender, ["one@example.test", "two@example.test"], body)
print("SENT", refused)
s.quit()
)PY";

std::string TestTmpDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

class PostfixServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "Postfix's master runs only as root";
    tmp_ = TestTmpDir();
    script_ = tmp_ + "/send.py";
    std::ofstream(script_) << kSendScript;
  }

  // The test CA's leaf for mx.tls.test (//tls/testdata:certs). smtplib does not verify it.
  void UseTestCertificate() {
    cert_ = volley::tls::TlsTestDataPath("mx.pem");
    key_ = volley::tls::TlsTestDataPath("mx.key");
    ASSERT_TRUE(std::filesystem::exists(cert_)) << cert_;
    ASSERT_TRUE(std::filesystem::exists(key_)) << key_;
  }

  std::pair<int, std::string> Send(const PostfixServer& server, absl::string_view mode,
                                   absl::string_view sender) {
    return RunShell(
        absl::StrCat(kPython, " ", script_, " ", server.port(), " ", mode, " ", sender));
  }

  std::string tmp_;
  std::string script_;
  std::string cert_;
  std::string key_;
};

// Live (not zombie) processes in process group `pgid`.
std::vector<int> LiveGroupMembers(int pgid) {
  std::vector<int> members;
  // The error_code forms: processes come and go while we read /proc.
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::filesystem::directory_entry& entry = *it;
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream in(entry.path() / "stat");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string stat = ss.str();
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    const std::vector<std::string> fields =
        absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
    int group = 0;
    if (fields.size() > 2 && absl::SimpleAtoi(fields[2], &group) && group == pgid &&
        fields[0] != "Z") {
      members.push_back(pid);
    }
  }
  return members;
}

::testing::AssertionResult GroupGoneWithin(int pgid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<int> members;
  while (!(members = LiveGroupMembers(pgid)).empty()) {
    if (absl::Now() >= deadline) {
      ::testing::AssertionResult failure = ::testing::AssertionFailure();
      failure << "processes of group " << pgid << " still running:";
      for (int pid : members) {
        std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        failure << " [" << pid << "] " << cmdline;
      }
      return failure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionSuccess();
}

// The send script's recipients.
std::set<std::string> BothRecipients() { return {"one@example.test", "two@example.test"}; }

// What arrived for one envelope sender: how many copies, for which recipients, of which queued
// messages.
struct Arrived {
  std::set<std::string> recipients;
  std::set<std::string> queue_ids;
  int copies = 0;
};

std::map<std::string, Arrived> BySender(const std::vector<DeliveredMessage>& delivered) {
  std::map<std::string, Arrived> by_sender;
  for (const DeliveredMessage& m : delivered) {
    Arrived& a = by_sender[m.sender];
    a.recipients.insert(m.recipient);
    a.queue_ids.insert(m.queue_id);
    ++a.copies;
  }
  return by_sender;
}

// Each copy is what the send script sent from its sender in the mode `mode_by_sender` names,
// for the recipient it was delivered to, and came over TLS exactly when sent in mode "tls".
void ExpectAsSent(const std::vector<DeliveredMessage>& delivered,
                  const std::map<std::string, std::string>& mode_by_sender) {
  for (const DeliveredMessage& m : delivered) {
    const auto mode = mode_by_sender.find(m.sender);
    ASSERT_NE(mode, mode_by_sender.end()) << m.content;
    EXPECT_THAT(m.recipient, AnyOf("one@example.test", "two@example.test")) << m.file;
    EXPECT_EQ(m.original_recipient, m.recipient) << m.file;
    EXPECT_EQ(m.Header("From"), absl::StrCat("<", m.sender, ">")) << m.file;
    EXPECT_EQ(m.Header("Subject"), mode->second) << m.file;
    EXPECT_EQ(m.Body(), absl::StrCat("hello from ", m.sender, "\n")) << m.file;
    EXPECT_FALSE(m.queue_id.empty()) << m.content;
    EXPECT_EQ(m.tls, mode->second == "tls") << m.content;
  }
}

TEST_F(PostfixServerTest, DeliversEachRecipientToAFileAndTellsWhichCameOverTls) {
  ASSERT_NO_FATAL_FAILURE(UseTestCertificate());
  PostfixOptions options;
  options.tls_cert_file = cert_;
  options.tls_key_file = key_;
  absl::StatusOr<std::unique_ptr<PostfixServer>> server =
      PostfixServer::Start(tmp_ + "/counts", options);
  ASSERT_TRUE(server.ok()) << server.status();
  const PostfixServer& postfix = **server;

  for (const auto& [mode, sender] :
       std::vector<std::pair<std::string, std::string>>{{"tls", "tls1@sender.test"},
                                                        {"plain", "plain@sender.test"},
                                                        {"tls", "tls2@sender.test"}}) {
    const auto [status, output] = Send(postfix, mode, sender);
    ASSERT_EQ(status, 0) << mode << ": " << output;
    EXPECT_THAT(output, HasSubstr("SENT {}")) << mode;
  }
  // Three messages of two recipients each: a file for each recipient.
  const absl::Status arrived = postfix.WaitForDelivered(6, absl::Seconds(20));
  ASSERT_TRUE(arrived.ok()) << arrived;
  absl::StatusOr<std::vector<DeliveredMessage>> delivered = postfix.Delivered();
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  ASSERT_EQ(delivered->size(), 6u);
  ExpectAsSent(
      *delivered,
      {{"tls1@sender.test", "tls"}, {"plain@sender.test", "plain"}, {"tls2@sender.test", "tls"}});

  const std::map<std::string, Arrived> by_sender = BySender(*delivered);
  ASSERT_EQ(by_sender.size(), 3u);
  std::set<std::string> queue_ids;
  for (const auto& [sender, a] : by_sender) {
    EXPECT_EQ(a.copies, 2) << sender;
    EXPECT_EQ(a.recipients, BothRecipients()) << sender;
    // The two copies are of one message: one queue id, and distinct from the others'.
    ASSERT_EQ(a.queue_ids.size(), 1u) << sender;
    queue_ids.insert(*a.queue_ids.begin());
  }
  EXPECT_EQ(queue_ids.size(), 3u);
  EXPECT_THAT(by_sender, ElementsAre(Key("plain@sender.test"), Key("tls1@sender.test"),
                                     Key("tls2@sender.test")));

  const std::string log = postfix.ReadLog();
  EXPECT_THAT(log, HasSubstr("TLS connection established from"));
  EXPECT_THAT(log, Not(HasSubstr(" fatal: ")));
  EXPECT_THAT(log, Not(HasSubstr(" panic: ")));
}

TEST_F(PostfixServerTest, WaitForDeliveredSaysHowManyArrived) {
  absl::StatusOr<std::unique_ptr<PostfixServer>> server =
      PostfixServer::Start(tmp_ + "/wait", PostfixOptions{});
  ASSERT_TRUE(server.ok()) << server.status();
  const auto [status, output] = Send(**server, "plain", "wait@sender.test");
  ASSERT_EQ(status, 0) << output;
  const absl::Status two = (*server)->WaitForDelivered(2, absl::Seconds(20));
  ASSERT_TRUE(two.ok()) << two;

  // Both copies are in and the queue is empty: asking for one is an excess, at once.
  const absl::Status one = (*server)->WaitForDelivered(1, absl::Seconds(20));
  EXPECT_EQ(one.code(), absl::StatusCode::kFailedPrecondition) << one;
  EXPECT_THAT(std::string(one.message()), StartsWith("Postfix delivered 2 files, 1 expected"));
  const absl::Status three = (*server)->WaitForDelivered(3, absl::Milliseconds(200));
  EXPECT_EQ(three.code(), absl::StatusCode::kDeadlineExceeded) << three;
  EXPECT_THAT(std::string(three.message()),
              StartsWith("Postfix delivered 2 files of 3 expected within"));
  EXPECT_THAT(std::string(three.message()), HasSubstr("with 0 messages in its queue"));
}

TEST_F(PostfixServerTest, RequireTlsRefusesMailBeforeStartTls) {
  ASSERT_NO_FATAL_FAILURE(UseTestCertificate());
  PostfixOptions options;
  options.tls_cert_file = cert_;
  options.tls_key_file = key_;
  options.require_tls = true;
  absl::StatusOr<std::unique_ptr<PostfixServer>> server =
      PostfixServer::Start(tmp_ + "/require-tls", options);
  ASSERT_TRUE(server.ok()) << server.status();

  const auto [refused_status, refused] = Send(**server, "mail-without-tls", "a@sender.test");
  ASSERT_EQ(refused_status, 0) << refused;
  EXPECT_THAT(refused, StartsWith("530 5.7.0 "));

  const auto [status, output] = Send(**server, "tls", "b@sender.test");
  ASSERT_EQ(status, 0) << output;
  // The refused MAIL left nothing; the message sent after STARTTLS arrived, over TLS, once for
  // each of its two recipients.
  const absl::Status arrived = (*server)->WaitForDelivered(2, absl::Seconds(20));
  ASSERT_TRUE(arrived.ok()) << arrived;
  absl::StatusOr<std::vector<DeliveredMessage>> delivered = (*server)->Delivered();
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  ASSERT_EQ(delivered->size(), 2u);
  ExpectAsSent(*delivered, {{"b@sender.test", "tls"}});
  EXPECT_EQ(BySender(*delivered)["b@sender.test"].recipients, BothRecipients());
}

TEST_F(PostfixServerTest, WithoutCertificateNoStartTlsAndNothingCountsAsTls) {
  absl::StatusOr<std::unique_ptr<PostfixServer>> server =
      PostfixServer::Start(tmp_ + "/plain", PostfixOptions{});
  ASSERT_TRUE(server.ok()) << server.status();
  const auto [tls_status, tls_output] = Send(**server, "tls", "a@sender.test");
  EXPECT_EQ(tls_status, 2) << tls_output;
  EXPECT_THAT(tls_output, HasSubstr("NO-STARTTLS"));
  const auto [status, output] = Send(**server, "plain", "b@sender.test");
  ASSERT_EQ(status, 0) << output;
  // Only the plain message arrived (the script quit before MAIL in the "tls" attempt), and its
  // copies say no TLS.
  const absl::Status arrived = (*server)->WaitForDelivered(2, absl::Seconds(20));
  ASSERT_TRUE(arrived.ok()) << arrived;
  absl::StatusOr<std::vector<DeliveredMessage>> delivered = (*server)->Delivered();
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  ASSERT_EQ(delivered->size(), 2u);
  ExpectAsSent(*delivered, {{"b@sender.test", "plain"}});
  EXPECT_EQ(BySender(*delivered)["b@sender.test"].recipients, BothRecipients());
}

TEST_F(PostfixServerTest, StopLeavesNoProcessAndKeepsTheLog) {
  const std::string dir = tmp_ + "/stop";
  absl::StatusOr<std::unique_ptr<PostfixServer>> server = PostfixServer::Start(dir);
  ASSERT_TRUE(server.ok()) << server.status();
  const int pgid = (*server)->master_pid();
  const std::string instance = (*server)->instance_dir();
  ASSERT_GT(pgid, 1);
  EXPECT_FALSE(LiveGroupMembers(pgid).empty());
  server->reset();
  // The destructor waits until the group is empty.
  EXPECT_TRUE(GroupGoneWithin(pgid, absl::ZeroDuration()));
  std::ifstream log(dir + "/maillog");
  std::stringstream ss;
  ss << log.rdbuf();
  EXPECT_THAT(ss.str(), HasSubstr("daemon started"));
  if (instance != dir) {
    EXPECT_FALSE(std::filesystem::exists(instance)) << instance;
  }
}

TEST_F(PostfixServerTest, ACrashedTestLeavesNothingRunningAndTheDirectoryIsReusable) {
  const std::string dir = tmp_ + "/crash";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A test that dies without running any destructor.
    close(fds[0]);
    absl::StatusOr<std::unique_ptr<PostfixServer>> server = PostfixServer::Start(dir);
    if (!server.ok()) _exit(1);
    const std::string report =
        absl::StrCat((*server)->master_pid(), " ", (*server)->instance_dir(), "\n");
    if (write(fds[1], report.data(), report.size()) < 0) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) report.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::vector<std::string> fields = absl::StrSplit(absl::StripAsciiWhitespace(report), ' ');
  ASSERT_EQ(fields.size(), 2u) << report;
  int pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(fields[0], &pgid));
  // PR_SET_PDEATHSIG killed the master, and its daemons followed.
  EXPECT_TRUE(GroupGoneWithin(pgid, absl::Seconds(10)));

  // The same directory again: the stale instance is cleaned up and a new one runs.
  absl::StatusOr<std::unique_ptr<PostfixServer>> server = PostfixServer::Start(dir);
  ASSERT_TRUE(server.ok()) << server.status();
  if (fields[1] != dir) {
    EXPECT_FALSE(std::filesystem::exists(fields[1])) << fields[1];
  }
  const auto [send_status, output] = Send(**server, "plain", "after@sender.test");
  ASSERT_EQ(send_status, 0) << output;
  // Exactly the new message's two copies.
  const absl::Status arrived = (*server)->WaitForDelivered(2, absl::Seconds(20));
  EXPECT_TRUE(arrived.ok()) << arrived;
}

}  // namespace
}  // namespace volley::test_support
