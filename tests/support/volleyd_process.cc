#include "tests/support/volleyd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "engine/http/http_client.h"

namespace volley::test_support {
namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Forks and execs volleyd with stdout and stderr into `log_path`.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args, const std::string& log_path) {
  const std::string binary = VolleydBinary();
  if (!FileExists(binary)) {
    return absl::NotFoundError(absl::StrCat("volleyd binary not found at ", binary));
  }
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", log_path, ": ", std::strerror(errno)));
  }
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    // Signals blocked by a test's threads must not stay blocked in the daemon.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fd);
  return pid;
}

ExitResult FromWaitStatus(int status) {
  ExitResult result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

// Waits for `pid` until `deadline`; returns true and the status when it exited.
bool WaitUntil(pid_t pid, absl::Time deadline, int* status) {
  while (true) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

bool ParseHostPort(absl::string_view text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view h = text.substr(0, colon);
  h = absl::StripPrefix(h, "[");
  h = absl::StripSuffix(h, "]");
  int p = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &p) || p <= 0 || p > 65535) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

std::string TestTempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string FreshTestDir(const std::string& name) {
  const std::string dir = absl::StrCat(TestTempDir(), "/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string RoutesToSinks(const std::vector<std::pair<std::string, uint16_t>>& routes) {
  std::string table = "[routes]\n";
  for (const auto& [domain, port] : routes) {
    absl::StrAppend(&table, "\"", domain, "\" = { host = \"127.0.0.1:", port, "\" }\n");
  }
  return table;
}

std::string LoopbackConfig(const std::string& spool, const std::string& log, int threads,
                           absl::string_view server_extra, absl::string_view http_extra) {
  return absl::StrCat("[server]\nthreads = ", threads, "\nspool = \"", spool, "\"\nlog = \"", log,
                      "\"\n", server_extra,
                      "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n"
                      "[http]\nlisten = \"127.0.0.1:0\"\n",
                      http_extra, "[dns]\nservers = [\"127.0.0.1:9\"]\n");
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string VolleydBinary() {
  if (const char* env = std::getenv("VOLLEYD"); env != nullptr && *env != '\0') return env;
  for (const char* var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    if (const char* dir = std::getenv(var); dir != nullptr) {
      std::string path = absl::StrCat(dir, "/volley/engine/volleyd");
      if (FileExists(path)) return path;
    }
  }
  // `bazel run` of a benchmark: the runfiles tree sits next to the binary.
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string path = absl::StrCat(self, ".runfiles/volley/engine/volleyd");
    if (FileExists(path)) return path;
  }
  return "bazel-bin/engine/volleyd";
}

absl::StatusOr<ExitResult> RunVolleyd(const std::vector<std::string>& args,
                                      absl::Duration timeout) {
  static int counter = 0;
  const std::string log_path =
      absl::StrCat(TestTempDir(), "/volleyd-run-", ::getpid(), "-", counter++, ".log");
  ::unlink(log_path.c_str());
  absl::StatusOr<pid_t> pid = Spawn(args, log_path);
  if (!pid.ok()) return pid.status();
  int status = 0;
  if (!WaitUntil(*pid, absl::Now() + timeout, &status)) {
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, &status, 0);
    return absl::DeadlineExceededError(absl::StrCat("volleyd did not exit within ",
                                                    absl::FormatDuration(timeout), "; output:\n",
                                                    ReadFileOrEmpty(log_path)));
  }
  ExitResult result = FromWaitStatus(status);
  result.output = ReadFileOrEmpty(log_path);
  AbortOnSanitizerReport(result.output);
  return result;
}

absl::StatusOr<std::unique_ptr<VolleydProcess>> VolleydProcess::Start(
    const std::string& config_path, const std::string& log_path, absl::Duration ready_timeout) {
  auto process = std::unique_ptr<VolleydProcess>(new VolleydProcess());
  process->log_path_ = log_path;
  // Output from an earlier run of the same test stays in the file: look only past it.
  const size_t offset = ReadFileOrEmpty(log_path).size();
  absl::StatusOr<pid_t> pid = Spawn({absl::StrCat("--config=", config_path)}, log_path);
  if (!pid.ok()) return pid.status();
  process->pid_ = *pid;
  const absl::Time deadline = absl::Now() + ready_timeout;
  while (true) {
    const std::string output = ReadFileOrEmpty(log_path);
    const size_t at = output.find("volleyd ready: ", offset);
    if (at != std::string::npos && output.find('\n', at) != std::string::npos) {
      absl::string_view line(output.data() + at, output.find('\n', at) - at);
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        if (absl::ConsumePrefix(&field, "smtp=")) {
          for (absl::string_view address : absl::StrSplit(field, ',', absl::SkipEmpty())) {
            std::string host;
            uint16_t port = 0;
            ParseHostPort(address, &host, &port);
            process->smtp_ports_.push_back(port);
          }
          absl::string_view first = field.substr(0, field.find(','));
          ParseHostPort(first, &process->smtp_host_, &process->smtp_port_);
        } else if (absl::ConsumePrefix(&field, "http=")) {
          std::string host;
          ParseHostPort(field, &host, &process->http_port_);
        }
      }
      if (process->smtp_port_ == 0 || process->http_port_ == 0) {
        return absl::InternalError(absl::StrCat("cannot parse the ready line: ", line));
      }
      return process;
    }
    int status = 0;
    if (::waitpid(process->pid_, &status, WNOHANG) == process->pid_) {
      process->pid_ = -1;
      return absl::FailedPreconditionError(absl::StrCat("volleyd exited (status ", status,
                                                        ") before it was ready; output:\n",
                                                        output.substr(offset)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("volleyd not ready after ",
                                                      absl::FormatDuration(ready_timeout),
                                                      "; output:\n", output.substr(offset)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

VolleydProcess::~VolleydProcess() {
  Kill();
  AbortOnSanitizerReport(output());
}

void AbortOnSanitizerReport(const std::string& output) {
  // A sanitizer in the child (bazel test --config=asan or tsan) only writes its report: the
  // test that ran it would pass unless something it checks went wrong. It fails here instead,
  // with the report.
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "WARNING: ThreadSanitizer", "runtime error: "}) {
    const size_t at = output.find(marker);
    if (at == std::string::npos) continue;
    const size_t from = output.rfind('\n', at);
    std::fprintf(stderr, "volleyd reported a sanitizer finding:\n%s\n",
                 output.substr(from == std::string::npos ? 0 : from + 1, 6000).c_str());
    std::abort();
  }
}

void VolleydProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

absl::StatusOr<ExitResult> VolleydProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  ::kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitUntil(pid_, absl::Now() + timeout, &status)) {
    Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("volleyd ignored SIGTERM for ", absl::FormatDuration(timeout)));
  }
  pid_ = -1;
  ExitResult result = FromWaitStatus(status);
  result.output = output();
  return result;
}

bool VolleydProcess::running() {
  if (pid_ <= 0) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string VolleydProcess::output() const { return ReadFileOrEmpty(log_path_); }

absl::StatusOr<std::string> VolleydProcess::Reload(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  const size_t before = output().size();
  ::kill(pid_, SIGHUP);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const std::string out = output();
    const std::string since = out.size() > before ? out.substr(before) : "";
    // The answer is complete once its first line has ended (a refusal lists its errors in
    // the same write).
    const size_t answer = since.find("SIGHUP: ");
    if (answer != std::string::npos && since.find('\n', answer) != std::string::npos) {
      return since;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("volleyd did not answer SIGHUP within ", absl::FormatDuration(timeout)));
}

absl::StatusOr<uint16_t> FreeTcpPort(const std::string& ip) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("bind ", ip, ": ", std::strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<HttpResult> HttpGet(const std::string& host, uint16_t port, const std::string& path,
                                   absl::Duration timeout) {
  return HttpCall(host, port, "GET", path, "", timeout);
}

absl::StatusOr<HttpResult> HttpCall(const std::string& host, uint16_t port,
                                    const std::string& method, const std::string& path,
                                    const std::string& body, absl::Duration timeout) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  absl::StatusOr<http::HttpClientResponse> answer =
      http::HttpRequest(method, http::HttpUrl{host, port, path}, headers, body, timeout);
  if (!answer.ok()) return answer.status();
  return HttpResult{answer->status, std::move(answer->body)};
}

double MetricValue(const std::string& metrics, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::StartsWith(line, series) && line.size() > series.size() &&
        line[series.size()] == ' ') {
      double value = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) return value;
    }
  }
  return -1;
}

}  // namespace volley::test_support
