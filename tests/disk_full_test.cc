// A spool on a small file system that the test fills: injection answers 452 4.3.1 (at MAIL
// while free space is below spool_min_free; at the end of DATA when RocksDB's writes fail),
// delivery goes on, nothing answered 250 is lost, and injection resumes by itself once there
// is room again.
//
// The test mounts a 512 MiB tmpfs in a mount namespace of its own (so the mount disappears
// with the test process, even when it crashes). That needs root, as on the CI machines.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/smtp_injector.h"
#include "gtest/gtest.h"
#include "tests/support/indexed_message.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::HttpGet;
using test_support::MetricValue;
using test_support::RawSmtpClient;
using test_support::TestTempDir;
using test_support::VolleydProcess;

constexpr uint64_t kMiB = 1024 * 1024;

uint64_t FreeBytes(const std::string& path) {
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) != 0) return 0;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

// Mounts a tmpfs of `size_mib` at `dir` in a private mount namespace. Returns "" or why not.
std::string MountSmallFileSystem(const std::string& dir, int size_mib) {
  std::filesystem::create_directories(dir);
  if (::unshare(CLONE_NEWNS) != 0) return absl::StrCat("unshare(CLONE_NEWNS): ", strerror(errno));
  // Keep our mounts from propagating back to the machine's namespace.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return absl::StrCat("mount --make-rprivate /: ", strerror(errno));
  }
  const std::string options = absl::StrCat("size=", size_mib, "m");
  if (::mount("volley-test", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    return absl::StrCat("mount tmpfs: ", strerror(errno));
  }
  return "";
}

// Takes space on the file system of `path` with a file, leaving about `leave` bytes free.
class Filler {
 public:
  Filler(std::string path, uint64_t leave) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    const std::string dir = std::filesystem::path(path_).parent_path();
    const uint64_t free = FreeBytes(dir);
    if (fd_ < 0 || free <= leave) return;
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(free - leave)) != 0) return;
    if (leave == 0) {
      // Take the last blocks too: write until the file system says no.
      const std::string block(4096, 'f');
      while (::write(fd_, block.data(), block.size()) > 0) {
      }
    }
    ok_ = true;
  }
  ~Filler() { Remove(); }
  bool ok() const { return ok_; }
  void Remove() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(path_.c_str());
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

std::string EnhancedOf(const smtp::Reply& reply) {
  return reply.enhanced.has_value() ? reply.enhanced->ToString() : "";
}

bench::InjectMessage Message(int index, size_t body_bytes) {
  bench::InjectMessage m;
  m.mail_from = "full@volley.test";
  m.recipients = {absl::StrCat("u", index, "@full.test")};
  m.content =
      absl::StrCat("Subject: disk full ", index, "\r\n", test_support::IndexHeader(index), "\r\n");
  for (size_t written = 0; written < body_bytes; written += 78) {
    m.content += std::string(76, static_cast<char>('a' + index % 26));
    m.content += "\r\n";
  }
  return m;
}

class DiskFull : public ::testing::Test {
 protected:
  // The sink starts with the volleyd, so that each test picks its speed.
  void SetUp() override {
    dir_ = absl::StrCat(TestTempDir(), "/disk-full");
    std::filesystem::remove_all(dir_);
    fs_ = absl::StrCat(dir_, "/fs");
    const std::string why = MountSmallFileSystem(fs_, 512);
    if (!why.empty()) GTEST_SKIP() << "cannot mount a small file system (needs root): " << why;
  }

  void TearDown() override {
    volleyd_.reset();
    if (!fs_.empty()) ::umount2(fs_.c_str(), MNT_DETACH);
  }

  void StartVolleyd(const std::string& min_free, absl::Duration sink_delay, int connections) {
    test_support::SinkOptions sink_options;
    sink_options.addresses = {"127.0.0.1"};
    sink_options.record = true;
    sink_options.reply_delay = sink_delay;
    auto sink = test_support::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);

    const std::string config_path = absl::StrCat(dir_, "/volley.toml");
    {
      std::ofstream config(config_path);
      config << test_support::LoopbackConfig(
                    absl::StrCat(fs_, "/spool"), absl::StrCat(dir_, "/delivery.jsonl"),
                    /*threads=*/2, absl::StrCat("spool_min_free = \"", min_free, "\"\n"))
             << "[delivery]\nretry_initial = \"1s\"\nretry_max = \"2s\"\n"
             << "[shaping.default]\nconnection_limit = " << connections << "\n"
             << "[routes]\n\"full.test\" = { host = \"127.0.0.1:" << sink_->port() << "\" }\n";
    }
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir_, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = std::move(*volleyd);
  }

  bench::InjectResult Inject(int first, int count, size_t body_bytes, int connections = 2) {
    bench::InjectorOptions options;
    options.port = volleyd_->smtp_port();
    options.connections = connections;
    options.timeout = absl::Seconds(30);
    auto result = bench::InjectAll(
        options, [&](size_t i) { return Message(first + static_cast<int>(i), body_bytes); },
        static_cast<size_t>(count));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    for (int i = 0; i < count; ++i) {
      if (result->replies[i].code == 250) acknowledged_.insert(first + i);
    }
    return *std::move(result);
  }

  double Metric(const std::string& series) {
    auto metrics = HttpGet("127.0.0.1", volleyd_->http_port(), "/metrics");
    if (!metrics.ok() || metrics->status != 200) return -2;
    return MetricValue(metrics->body, series);
  }

  bool WaitForMetric(const std::string& series, double value, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (Metric(series) == value) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // Collects what the sink received until every acknowledged message arrived (or 60 s).
  void ExpectEveryAcknowledgedMessageArrives() {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    size_t missing = acknowledged_.size();
    while (absl::Now() < deadline) {
      for (const test_support::ReceivedMessage& m : sink_->TakeMessages()) {
        arrived_.insert(test_support::IndexOf(m.content));
      }
      missing = 0;
      for (int i : acknowledged_) missing += arrived_.count(i) == 0;
      if (missing == 0) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(missing, 0u) << "acknowledged messages lost:\n" << volleyd_->output();
  }

  std::string dir_, fs_;
  std::unique_ptr<test_support::SmtpSink> sink_;
  std::unique_ptr<VolleydProcess> volleyd_;
  std::set<int> acknowledged_;
  std::set<int> arrived_;
};

TEST_F(DiskFull, BelowSpoolMinFreeInjectionAnswers452AndResumesByItself) {
  // A sink slow enough that delivery is still going on while the disk is full.
  StartVolleyd("128MiB", absl::Milliseconds(20), 1);
  ASSERT_EQ(Metric("volley_spool_refusing_injection"), 0);
  EXPECT_GT(Metric("volley_spool_free_bytes"), 300.0 * kMiB);

  // Queued before the disk fills; delivered (slowly) while it is full.
  const bench::InjectResult before = Inject(0, 200, 2048);
  ASSERT_EQ(before.accepted, 200u);

  Filler filler(absl::StrCat(fs_, "/filler"), 64 * kMiB);
  ASSERT_TRUE(filler.ok());
  ASSERT_TRUE(WaitForMetric("volley_spool_refusing_injection", 1, absl::Seconds(5)));
  EXPECT_LT(Metric("volley_spool_free_bytes"), 128.0 * kMiB);

  // Refused at MAIL: the client does not send a body we would not keep.
  {
    std::unique_ptr<RawSmtpClient> client =
        RawSmtpClient::Connect("127.0.0.1", volleyd_->smtp_port());
    ASSERT_NE(client, nullptr);
    EXPECT_TRUE(absl::StartsWith(client->ReadFinal(), "220"));
    EXPECT_TRUE(absl::StartsWith(client->Command("EHLO client.test"), "250"));
    const std::string mail = client->Command("MAIL FROM:<full@volley.test>");
    EXPECT_TRUE(absl::StartsWith(mail, "452 4.3.1")) << mail;
    EXPECT_TRUE(absl::StartsWith(client->Command("QUIT"), "221"));
  }
  const uint64_t delivered_when_refusing = sink_->messages();
  const bench::InjectResult refused = Inject(1000, 20, 2048);
  EXPECT_EQ(refused.accepted, 0u);
  for (const smtp::Reply& reply : refused.replies) {
    EXPECT_EQ(reply.code, 452) << (reply.lines.empty() ? "" : reply.lines[0]);
    EXPECT_EQ(EnhancedOf(reply), "4.3.1");
  }
  // Delivery goes on meanwhile (it is what frees space).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (sink_->messages() <= delivered_when_refusing + 5 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GT(sink_->messages(), delivered_when_refusing + 5) << "delivery stalled on a full disk";

  filler.Remove();
  ASSERT_TRUE(WaitForMetric("volley_spool_refusing_injection", 0, absl::Seconds(5)));
  const bench::InjectResult after = Inject(2000, 100, 2048);
  EXPECT_EQ(after.accepted, 100u);

  ExpectEveryAcknowledgedMessageArrives();
  for (int i = 1000; i < 1020; ++i) EXPECT_EQ(arrived_.count(i), 0u) << "refused yet delivered";
}

TEST_F(DiskFull, SpoolWriteErrorsAnswer452AndTheEngineRecovers) {
  // The threshold is off: RocksDB itself runs out of space.
  StartVolleyd("0", absl::ZeroDuration(), 4);
  const bench::InjectResult before = Inject(0, 50, 2048);
  ASSERT_EQ(before.accepted, 50u);

  Filler filler(absl::StrCat(fs_, "/filler"), 0);
  ASSERT_TRUE(filler.ok());
  ASSERT_LT(FreeBytes(fs_), 64 * 1024u);

  // Large messages, one connection, until the spool fails. RocksDB may have set space aside for
  // its write-ahead log before the disk filled, but no more than the file system holds: at most
  // 2,000 × 256 KiB (the whole 512 MiB).
  int next = 1000;
  bool saw_452 = false;
  for (int round = 0; round < 100 && !saw_452; ++round) {
    const bench::InjectResult full = Inject(next, 20, 256 * 1024, /*connections=*/1);
    for (const smtp::Reply& reply : full.replies) {
      EXPECT_TRUE(reply.code == 250 || reply.code == 452)
          << reply.code << " " << (reply.lines.empty() ? "" : reply.lines[0]);
      if (reply.code == 452) {
        EXPECT_EQ(EnhancedOf(reply), "4.3.1");
        saw_452 = true;
      }
    }
    next += 20;
  }
  ASSERT_TRUE(saw_452) << "the spool never failed on a full file system";
  ASSERT_TRUE(volleyd_->running()) << volleyd_->output();
  // While writes fail, injection refuses at MAIL already.
  EXPECT_EQ(Metric("volley_spool_refusing_injection"), 1);
  EXPECT_GE(Metric("volley_spool_commit_failures_total"), 1);
  {
    std::unique_ptr<RawSmtpClient> client =
        RawSmtpClient::Connect("127.0.0.1", volleyd_->smtp_port());
    ASSERT_NE(client, nullptr);
    client->ReadFinal();
    client->Command("EHLO client.test");
    const std::string mail = client->Command("MAIL FROM:<full@volley.test>");
    EXPECT_TRUE(absl::StartsWith(mail, "452 4.3.1")) << mail;
  }

  filler.Remove();
  // RocksDB recovers once there is room; the writer notices by itself and injection works
  // again without a restart.
  ASSERT_TRUE(WaitForMetric("volley_spool_refusing_injection", 0, absl::Seconds(30)))
      << volleyd_->output();
  const bench::InjectResult again = Inject(5000, 50, 2048);
  EXPECT_EQ(again.accepted, 50u);
  ASSERT_TRUE(volleyd_->running());

  ExpectEveryAcknowledgedMessageArrives();
}

}  // namespace
}  // namespace volley
