#include "tests/support/postfix_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "tests/support/postfix_config.h"
#include "tests/support/postfix_layout.h"

namespace volley::test_support {
namespace {

constexpr char kMasterPath[] = "/usr/lib/postfix/sbin/master";
// Relocated instances are named so; only such directories are ever removed by path.
constexpr char kTmpPrefix[] = "/tmp/volley-postfix-";
constexpr int kMaxStartAttempts = 5;

std::string Errno(absl::string_view call) { return absl::StrCat(call, ": ", std::strerror(errno)); }

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The highest descriptor number to close in a child when close_range is missing (before Linux
// 5.9), computed before fork because sysconf is not async-signal-safe.
int MaxFd() {
  const long max = sysconf(_SC_OPEN_MAX);
  return max <= 0 || max > 65536 ? 65536 : static_cast<int>(max);
}

// Closes every descriptor from `low` on. Async-signal-safe, for use between fork and exec.
void CloseFrom(int low, int max_fd) {
  if (syscall(SYS_close_range, static_cast<unsigned>(low), ~0u, 0u) == 0) return;
  for (int fd = low; fd < max_fd; ++fd) close(fd);
}

void SleepBriefly() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

// A port free on 127.0.0.1 now. The socket is closed before Postfix binds, so another process
// may take it in between: Start retries then, and WaitReady checks the greeting is ours.
absl::StatusOr<uint16_t> PickFreePort() {
  Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return absl::InternalError(Errno("socket"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::InternalError(Errno("bind"));
  }
  socklen_t len = sizeof(addr);
  if (getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(Errno("getsockname"));
  }
  return ntohs(addr.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(std::string text, size_t max_bytes) {
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

absl::Status WriteFile(const std::string& path, absl::string_view content, mode_t mode) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (fd.get() < 0) return absl::InternalError(Errno(absl::StrCat("open ", path)));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(Errno(absl::StrCat("write ", path)));
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd.get(), mode) != 0) return absl::InternalError(Errno(absl::StrCat("fchmod ", path)));
  // Postfix re-reads a table file modified within the last second, pausing 300 ms each time
  // (against reading a file while an editor writes it): a minute-old mtime avoids the wait.
  timeval times[2];
  gettimeofday(&times[0], nullptr);
  times[0].tv_sec -= 60;
  times[1] = times[0];
  if (futimes(fd.get(), times) != 0) {
    return absl::InternalError(Errno(absl::StrCat("futimes ", path)));
  }
  return absl::OkStatus();
}

// True when a process running as uid/gid can enter and read `dir` (every directory above it
// included), tested by doing it.
bool ReachableBy(const std::string& dir, uid_t uid, gid_t gid) {
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // Raw system calls: they change this thread only, which is all a forked child has, and
    // are async-signal-safe where glibc's wrappers (which signal every thread) are not.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setgid, gid) != 0 ||
        syscall(SYS_setuid, uid) != 0) {
      _exit(2);
    }
    _exit(access(dir.c_str(), R_OK | X_OK) == 0 ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Live (not zombie) processes whose process group is `pgid`, from /proc.
std::vector<pid_t> ProcessGroupMembers(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return members;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
    int group = 0;
    if (fields.size() < 3 || !absl::SimpleAtoi(fields[2], &group)) continue;
    if (group == pgid && fields[0] != "Z" && fields[0] != "X") members.push_back(pid);
  }
  closedir(proc);
  return members;
}

bool IsPostfixProcess(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path exe =
      std::filesystem::read_symlink(absl::StrCat("/proc/", pid, "/exe"), ec);
  return !ec && absl::StartsWith(exe.string(), absl::StrCat(kPostfixDaemonDirectory, "/"));
}

// Waits until no live process is left in the group, sending SIGKILL to the group's Postfix
// processes first when `kill_first`. Returns false if some are still there at the deadline.
bool DrainProcessGroup(pid_t pgid, bool kill_first, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const std::vector<pid_t> members = ProcessGroupMembers(pgid);
    if (members.empty()) return true;
    if (absl::Now() >= deadline) return false;
    if (kill_first) {
      for (pid_t pid : members) {
        if (IsPostfixProcess(pid)) kill(pid, SIGKILL);
      }
    }
    SleepBriefly();
  }
}

// Kills what is left of an instance rooted at `root` whose test crashed: the master's pid file
// names the process group (the harness makes the master a session leader). Only processes
// running Postfix binaries are touched, so a reused pid is safe.
void KillStaleInstance(const std::string& root) {
  const std::string pid_text = ReadFile(root + "/queue/pid/master.pid");
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(pid_text), &pid) || pid <= 1) return;
  if (!DrainProcessGroup(pid, /*kill_first=*/true, absl::Seconds(5))) {
    fprintf(stderr, "postfix_server: stale Postfix processes of %s (group %d) survive SIGKILL\n",
            root.c_str(), pid);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostfixServer>> PostfixServer::Start(const std::string& dir,
                                                                    const PostfixOptions& options) {
  if (access(kMasterPath, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kMasterPath,
                     " is missing: install the Debian package `postfix` "
                     "(tools/setup.sh)"));
  }
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "the Postfix master must run as root (its daemons then run as `postfix`)");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert_file and tls_key_file go together");
  }
  if (options.require_tls && options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("require_tls needs tls_cert_file and tls_key_file");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create_directories ", dir, ": ", ec.message()));

  std::unique_ptr<PostfixServer> server(new PostfixServer(dir, options));
  if (absl::Status s = server->PrepareInstance(); !s.ok()) return s;
  absl::Status last;
  for (int attempt = 0; attempt < kMaxStartAttempts; ++attempt) {
    absl::StatusOr<uint16_t> port = PickFreePort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    // Fresh logs, so that an error shows this attempt only.
    std::filesystem::remove(server->log_path(), ec);
    std::filesystem::remove(server->instance_dir_ + "/master.out", ec);
    if (absl::Status s = server->WriteConfig(); !s.ok()) return s;
    if (absl::Status s = server->Spawn(); !s.ok()) return s;
    last = server->WaitReady();
    if (last.ok()) return server;
    server->Stop();
    // Someone took the port between PickFreePort and Postfix's bind: try another one.
    if (!absl::StrContains(last.message(), "ddress already in use") &&
        !absl::StrContains(last.message(), "not the harness's Postfix")) {
      break;
    }
  }
  return last;
}

PostfixServer::~PostfixServer() {
  Stop();
  if (instance_in_tmp_) {
    std::error_code ec;
    std::filesystem::copy_file(log_path(), dir_ + "/maillog",
                               std::filesystem::copy_options::overwrite_existing, ec);
    std::filesystem::remove_all(instance_dir_, ec);
    std::filesystem::remove(dir_ + "/postfix-instance", ec);
  }
}

std::string PostfixServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string PostfixServer::log_path() const { return PostfixLogPath(instance_dir_); }

std::string PostfixServer::ReadLog() const { return ReadFile(log_path()); }

std::string PostfixServer::maildir() const { return PostfixMaildir(instance_dir_); }

absl::Status PostfixServer::PrepareInstance() {
  const passwd* owner = getpwnam(kPostfixMailOwner);
  const group* setgid_group = getgrnam(kPostfixSetgidGroup);
  if (owner == nullptr || setgid_group == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("user `", kPostfixMailOwner, "` or group `", kPostfixSetgidGroup,
                     "` missing: install the Debian package `postfix` (tools/setup.sh)"));
  }
  const uid_t owner_uid = owner->pw_uid;
  const gid_t owner_gid = owner->pw_gid;
  const gid_t setgid_gid = setgid_group->gr_gid;
  // virtual(8) writes the Maildir as the mail owner: a user that can reach the instance.
  mail_uid_ = owner_uid;
  mail_gid_ = owner_gid;

  // Whatever an earlier run that crashed left behind, in `dir` itself or under /tmp.
  std::error_code ec;
  KillStaleInstance(dir_);
  const std::string link = dir_ + "/postfix-instance";
  const std::filesystem::path old = std::filesystem::read_symlink(link, ec);
  if (!ec) {
    KillStaleInstance(old.string());
    if (absl::StartsWith(old.string(), kTmpPrefix)) std::filesystem::remove_all(old, ec);
  }
  std::filesystem::remove(link, ec);

  if (ReachableBy(dir_, owner_uid, owner_gid)) {
    instance_dir_ = dir_;
    for (const char* sub : {"conf", "queue", "data", "mail"}) {
      std::filesystem::remove_all(absl::StrCat(dir_, "/", sub), ec);
    }
  } else {
    std::string tmpl = absl::StrCat(kTmpPrefix, "XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError(Errno("mkdtemp"));
    instance_dir_ = tmpl;
    instance_in_tmp_ = true;
    if (chmod(instance_dir_.c_str(), 0755) != 0) return absl::InternalError(Errno("chmod"));
    std::filesystem::create_directory_symlink(instance_dir_, link, ec);
    if (ec) return absl::InternalError(absl::StrCat("symlink ", link, ": ", ec.message()));
  }

  return MakePostfixLayout(instance_dir_, owner_uid, owner_gid, setgid_gid);
}

absl::Status PostfixServer::WriteConfig() {
  const std::string conf = instance_dir_ + "/conf";
  PostfixConfig config;
  if (!options_.tls_cert_file.empty()) {
    // Copies, so that Postfix reads them from a directory it is known to reach.
    const std::string cert = ReadFile(options_.tls_cert_file);
    const std::string key = ReadFile(options_.tls_key_file);
    if (cert.empty() || key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", options_.tls_cert_file, " or ", options_.tls_key_file));
    }
    config.tls_cert_file = conf + "/tls.pem";
    config.tls_key_file = conf + "/tls.key";
    if (absl::Status s = WriteFile(config.tls_cert_file, cert, 0644); !s.ok()) return s;
    if (absl::Status s = WriteFile(config.tls_key_file, key, 0600); !s.ok()) return s;
  }
  // The banner carries a nonce, so that WaitReady knows the 220 is from this instance and not
  // from a process that took the port first.
  absl::BitGen gen;
  banner_nonce_ = absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));

  config.instance_dir = instance_dir_;
  config.port = port_;
  config.banner_nonce = banner_nonce_;
  config.mail_uid = mail_uid_;
  config.mail_gid = mail_gid_;
  config.require_tls = options_.require_tls;
  config.extra_main_cf = options_.extra_main_cf;
  if (absl::Status s = WriteFile(conf + "/main.cf", PostfixMainCf(config), 0644); !s.ok()) {
    return s;
  }
  return WriteFile(conf + "/master.cf", PostfixMasterCf(port_), 0644);
}

absl::Status PostfixServer::Spawn() {
  const std::string conf = instance_dir_ + "/conf";
  const std::string out_path = instance_dir_ + "/master.out";
  // Everything the children need is prepared before fork: after it, only async-signal-safe
  // calls.
  Fd out(open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0) return absl::InternalError(Errno(absl::StrCat("open ", out_path)));
  Fd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_in.get() < 0) return absl::InternalError(Errno("open /dev/null"));
  int guard[2];
  if (pipe2(guard, O_CLOEXEC) != 0) return absl::InternalError(Errno("pipe2"));
  Fd guard_read(guard[0]);
  guard_fd_ = guard[1];
  const int max_fd = MaxFd();
  // -d: stay in the foreground, as our child. The master logs its early fatal errors (a port
  // in use, a bad main.cf) to syslog, which a container may not have, unless POSTLOG_SERVICE
  // tells it to fall back to writing maillog_file itself (the `postfix` command sets it too).
  std::string arg0 = "master", arg1 = "-c", arg2 = conf, arg3 = "-d";
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), arg3.data(), nullptr};
  std::string env0 = "POSTLOG_SERVICE=postlog", env1 = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {env0.data(), env1.data(), nullptr};

  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(Errno("fork"));
  if (pid == 0) {
    // Its own session and process group (master -d does not make one), so that Stop, the
    // guardian and a later Start can find every Postfix process of this instance by group.
    setsid();
    dup2(null_in.get(), STDIN_FILENO);
    dup2(out.get(), STDOUT_FILENO);
    dup2(out.get(), STDERR_FILENO);
    // Keep the test's sockets and the guard pipe out of Postfix.
    CloseFrom(3, max_fd);
    execve(kMasterPath, argv, envp);
    _exit(127);
  }
  pid_ = pid;
  pgid_ = pid;

  // The guardian kills the instance when this process dies without running the destructor (a
  // crashed or killed test). PR_SET_PDEATHSIG on the master cannot do that: the kernel clears
  // it when the master changes its effective uid to open its lock file as `postfix`. The
  // guardian waits for end-of-file on a pipe whose only writer is this process (O_CLOEXEC keeps
  // it out of everything we exec), which the kernel closes however we die.
  const pid_t guardian = fork();
  if (guardian < 0) return absl::InternalError(Errno("fork"));
  if (guardian == 0) {
    dup2(guard_read.get(), STDIN_FILENO);
    dup2(null_in.get(), STDOUT_FILENO);
    dup2(null_in.get(), STDERR_FILENO);
    // Holding none of the test's descriptors: a pipe or socket the test waits on must not stay
    // open because of us.
    CloseFrom(3, max_fd);
    char byte;
    while (true) {
      const ssize_t n = read(STDIN_FILENO, &byte, 1);
      if (n > 0) _exit(0);  // disarmed: Stop has already stopped Postfix
      if (n == 0 || errno != EINTR) break;
    }
    // The master by pid as well, in case it had not reached setsid() yet.
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    _exit(0);
  }
  guardian_pid_ = guardian;
  return absl::OkStatus();
}

absl::Status PostfixServer::WaitReady() {
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  std::string last_greeting;
  while (absl::Now() < deadline) {
    if (ChildExited()) {
      return absl::UnavailableError(
          absl::StrCat("the Postfix master exited before answering; ", LogTail()));
    }
    Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.get() < 0) return absl::InternalError(Errno("socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      SleepBriefly();  // not listening yet
      continue;
    }
    // Read the greeting line; smtpd is started on demand, which takes a moment.
    std::string greeting;
    while (greeting.find('\n') == std::string::npos && absl::Now() < deadline) {
      pollfd pfd{sock.get(), POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) continue;
      char buf[512];
      const ssize_t n = read(sock.get(), buf, sizeof(buf));
      if (n <= 0) break;
      greeting.append(buf, static_cast<size_t>(n));
    }
    if (greeting.find('\n') == std::string::npos) {
      last_greeting = greeting;
      SleepBriefly();
      continue;
    }
    if (!absl::StrContains(greeting, banner_nonce_)) {
      return absl::UnavailableError(absl::StrCat("port ", port_, " answered \"",
                                                 absl::StripAsciiWhitespace(greeting),
                                                 "\": not the harness's Postfix"));
    }
    if (!absl::StartsWith(greeting, "220")) {
      return absl::UnavailableError(absl::StrCat(
          "Postfix greeted with \"", absl::StripAsciiWhitespace(greeting), "\"; ", LogTail()));
    }
    // A polite end, so that the log shows no lost connection.
    const ssize_t ignored = write(sock.get(), "QUIT\r\n", 6);
    (void)ignored;
    // Ready includes the log: the master's first line reaches maillog through postlogd, which
    // may still be starting when smtpd already answers (a server stopped at once could
    // otherwise leave an empty log).
    while (!absl::StrContains(ReadFile(log_path()), "daemon started")) {
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "Postfix on ", address(), " greeted but logged no \"daemon started\"; ", LogTail()));
      }
      SleepBriefly();
    }
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("Postfix on ", address(), " did not greet within ",
                   absl::FormatDuration(options_.ready_timeout), " (last read: \"", last_greeting,
                   "\"); ", LogTail()));
}

bool PostfixServer::ChildExited() {
  if (pid_ < 0) return true;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return true;
  }
  return false;
}

std::string PostfixServer::LogTail() const {
  return absl::StrCat("--- ", instance_dir_, "/master.out:\n",
                      Tail(ReadFile(instance_dir_ + "/master.out"), 2000), "--- ", log_path(),
                      ":\n", Tail(ReadLog(), 4000));
}

void PostfixServer::Stop() {
  if (pid_ > 0) {
    // The master passes SIGTERM on to its daemons and exits.
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!ChildExited() && absl::Now() < deadline) SleepBriefly();
    if (pid_ > 0) {
      kill(-pgid_, SIGKILL);
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
  }
  if (pgid_ > 0) {
    // The daemons are not our children (they are reaped elsewhere): wait until they are gone.
    if (!DrainProcessGroup(pgid_, /*kill_first=*/false, absl::Seconds(5)) &&
        !DrainProcessGroup(pgid_, /*kill_first=*/true, absl::Seconds(5))) {
      fprintf(stderr, "postfix_server: Postfix processes of group %d survive SIGKILL\n", pgid_);
    }
    pgid_ = -1;
  }
  if (guard_fd_ >= 0) {
    // Disarm the guardian: the master's pid may be reused now that it is reaped, so it must not
    // kill anything. A failed write leaves it to kill an empty group, which is harmless.
    const ssize_t ignored = write(guard_fd_, "x", 1);
    (void)ignored;
    close(guard_fd_);
    guard_fd_ = -1;
  }
  if (guardian_pid_ > 0) {
    while (waitpid(guardian_pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    guardian_pid_ = -1;
  }
}

absl::StatusOr<std::vector<DeliveredMessage>> PostfixServer::Delivered() const {
  return ReadDelivered(maildir(), kPostfixHostname);
}

absl::Status PostfixServer::WaitForDelivered(int count, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  int empty_scans = 0;
  while (true) {
    absl::StatusOr<int> delivered = CountDelivered(maildir());
    if (!delivered.ok()) return delivered.status();
    const int queued = QueuedMessages(instance_dir_);
    empty_scans = queued == 0 ? empty_scans + 1 : 0;
    if (*delivered >= count && empty_scans >= 2) {
      if (*delivered == count) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat(
          "Postfix delivered ", *delivered, " files, ", count, " expected; ", LogTail()));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "Postfix delivered ", *delivered, " files of ", count, " expected within ",
          absl::FormatDuration(timeout), ", with ", queued, " messages in its queue; ", LogTail()));
    }
    SleepBriefly();
  }
}

}  // namespace volley::test_support
