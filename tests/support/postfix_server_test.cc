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
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

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
#include "tls/testdata/testdata_paths.h"

namespace volley::test_support {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Debian's interpreter, not whatever `python3` is first on PATH: smtplib is all we need.
constexpr char kPython[] = "/usr/bin/python3";

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
body = ("From: <%s>\r\nTo: <one@example.test>\r\nSubject: %s\r\n\r\nhello\r\n" % (sender, mode))
refused = s.sendmail(sender, ["one@example.test", "two@example.test"], body)
print("SENT", refused)
s.quit()
)PY";

std::string TestTmpDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// Runs a shell command; its exit status and combined output.
std::pair<int, std::string> RunShell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
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

TEST_F(PostfixServerTest, CountsMessagesAndThoseThatCameOverTls) {
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
  ASSERT_TRUE(postfix.WaitForMessages(3, absl::Seconds(20)).ok());
  EXPECT_EQ(postfix.MessagesAccepted(), 3);
  EXPECT_EQ(postfix.MessagesOverTls(), 2);

  std::map<std::string, bool> tls_by_sender;
  for (const PostfixMessage& m : postfix.Messages()) {
    tls_by_sender[m.sender] = m.tls;
    EXPECT_EQ(m.recipients, 2) << m.queue_id;
    EXPECT_GT(m.size, 0) << m.queue_id;
  }
  EXPECT_EQ(tls_by_sender, (std::map<std::string, bool>{
                               {"plain@sender.test", false},
                               {"tls1@sender.test", true},
                               {"tls2@sender.test", true},
                           }));

  // The discard transport consumes the recipients right after queueing.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  auto all_delivered = [&] {
    for (const PostfixMessage& m : postfix.Messages()) {
      if (m.delivered_to.size() < 2) return false;
    }
    return true;
  };
  while (!all_delivered() && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const PostfixMessage& m : postfix.Messages()) {
    EXPECT_THAT(m.delivered_to, ElementsAre("one@example.test", "two@example.test"));
  }

  const std::string log = postfix.ReadLog();
  EXPECT_THAT(log, HasSubstr("TLS connection established from"));
  EXPECT_THAT(log, Not(HasSubstr(" fatal: ")));
  EXPECT_THAT(log, Not(HasSubstr(" panic: ")));
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
  ASSERT_TRUE((*server)->WaitForMessages(1, absl::Seconds(20)).ok());
  EXPECT_EQ((*server)->MessagesAccepted(), 1);
  EXPECT_EQ((*server)->MessagesOverTls(), 1);
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
  ASSERT_TRUE((*server)->WaitForMessages(1, absl::Seconds(20)).ok());
  EXPECT_EQ((*server)->MessagesAccepted(), 1);
  EXPECT_EQ((*server)->MessagesOverTls(), 0);
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
  EXPECT_TRUE((*server)->WaitForMessages(1, absl::Seconds(20)).ok());
}

}  // namespace
}  // namespace volley::test_support
