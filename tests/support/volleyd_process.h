// Runs volleyd as a child process for integration tests and the end-to-end benchmark: writes
// nothing itself, starts the binary with a config file, waits for its "volleyd ready" line,
// and can stop it politely (SIGTERM) or brutally (SIGKILL).
#ifndef VOLLEY_TESTS_SUPPORT_VOLLEYD_PROCESS_H_
#define VOLLEY_TESTS_SUPPORT_VOLLEYD_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::test_support {

// The volleyd binary: $VOLLEYD if set, else the runfiles copy next to a Bazel test or
// benchmark, else bazel-bin/engine/volleyd.
std::string VolleydBinary();

struct ExitResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string output;  // stderr and stdout
};

// Runs volleyd with `args` to completion (e.g. --check-config, or a start that must fail).
absl::StatusOr<ExitResult> RunVolleyd(const std::vector<std::string>& args,
                                      absl::Duration timeout = absl::Seconds(30));

class VolleydProcess {
 public:
  // Starts `volleyd --config=<config_path>`; its output goes to `log_path`. Fails if it exits
  // or is not ready within `ready_timeout`.
  static absl::StatusOr<std::unique_ptr<VolleydProcess>> Start(
      const std::string& config_path, const std::string& log_path,
      absl::Duration ready_timeout = absl::Seconds(60));
  ~VolleydProcess();  // SIGKILL if still running

  pid_t pid() const { return pid_; }
  // From the ready line.
  const std::string& smtp_host() const { return smtp_host_; }
  uint16_t smtp_port() const { return smtp_port_; }
  // Every SMTP listen address's port, in config order (listeners, then their addresses).
  const std::vector<uint16_t>& smtp_ports() const { return smtp_ports_; }
  uint16_t http_port() const { return http_port_; }

  // SIGKILL, then reap.
  void Kill();
  // SIGTERM, then wait up to `timeout` for the exit (SIGKILL after that).
  absl::StatusOr<ExitResult> Terminate(absl::Duration timeout = absl::Seconds(30));
  bool running();
  std::string output() const;
  // SIGHUP, then waits up to `timeout` for volleyd's answer to it ("SIGHUP: reloaded ..." or
  // "SIGHUP: ... refused ..." with the errors): returns the output written since the signal.
  absl::StatusOr<std::string> Reload(absl::Duration timeout = absl::Seconds(10));

 private:
  VolleydProcess() = default;
  pid_t pid_ = -1;
  std::string log_path_;
  std::string smtp_host_;
  uint16_t smtp_port_ = 0;
  std::vector<uint16_t> smtp_ports_;
  uint16_t http_port_ = 0;
};

// A bound-then-released TCP port on `ip` (good enough for tests: nobody else races us on
// loopback here).
absl::StatusOr<uint16_t> FreeTcpPort(const std::string& ip = "127.0.0.1");

struct HttpResult {
  int status = 0;
  std::string body;
};
// A blocking HTTP/1.1 request on loopback, with `body` (sent as application/json) unless
// empty.
absl::StatusOr<HttpResult> HttpCall(const std::string& host, uint16_t port,
                                    const std::string& method, const std::string& path,
                                    const std::string& body = "",
                                    absl::Duration timeout = absl::Seconds(10));
absl::StatusOr<HttpResult> HttpGet(const std::string& host, uint16_t port, const std::string& path,
                                   absl::Duration timeout = absl::Seconds(10));

// The value of a Prometheus sample line `name{labels} value` in `metrics` (exact name+labels
// match, e.g. `volley_deliveries_total{outcome="delivered"}`), or -1 when absent.
double MetricValue(const std::string& metrics, const std::string& series);

std::string TestTempDir();
// TestTempDir()/`name`, emptied (a test's spool, logs and config go there).
std::string FreshTestDir(const std::string& name);
// A [routes] table sending each domain to a sink on 127.0.0.1 at its port.
std::string RoutesToSinks(const std::vector<std::pair<std::string, uint16_t>>& routes);

// The tables an integration test's config starts with: [server] with `threads`, `spool`, `log`
// and any `server_extra` lines ("key = value\n"), the SMTP and HTTP listeners on 127.0.0.1
// port 0 ([http] with any `http_extra` lines), and [dns] at an address nobody answers
// (127.0.0.1:9), so that only [routes] deliver. The test appends its [delivery], [shaping] and
// [routes] tables.
std::string LoopbackConfig(const std::string& spool, const std::string& log, int threads = 2,
                           absl::string_view server_extra = "", absl::string_view http_extra = "");
std::string ReadFileOrEmpty(const std::string& path);
// Prints the first sanitizer report in volleyd's `output` (AddressSanitizer, LeakSanitizer,
// ThreadSanitizer, UBSan) and aborts the process: a test whose volleyd had one fails, even when
// what it checks went right. VolleydProcess checks its log when it is destroyed.
void AbortOnSanitizerReport(const std::string& output);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_VOLLEYD_PROCESS_H_
