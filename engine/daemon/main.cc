// volleyd: the Volley daemon. See README.md for flags, exit codes and signals.
//
// Exit codes: 0 clean stop (or --version, --help), 1 bad config or flags, 2 spool cannot be
// opened (or, with --spool-check, is damaged).
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/logging.h"
#include "engine/base/version.h"
#include "engine/config/config.h"
#include "engine/config/reload.h"
#include "engine/daemon/engine.h"
#include "queue/spool.h"
#include "queue/spool_check.h"

namespace {

constexpr char kUsage[] =
    "usage: volleyd [--config=FILE] [--check-config | --spool-check] | --version\n"
    "  --config=FILE    run with FILE (TOML); without it, on the embedded defaults\n"
    "  --check-config   validate the config, print every error with its line, exit 0 or 1\n"
    "  --spool-check    verify the config's spool (volleyd must not be running on it), repair\n"
    "                   what a crash left behind, report its counts; exit 0, or 2 when it\n"
    "                   cannot be opened or is damaged\n"
    "  --version        print \"volleyd VERSION\" and exit 0, reading no config\n";

struct Flags {
  std::string config_path;
  bool check_config = false;
  bool spool_check = false;
  bool version = false;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "--config=")) {
      flags->config_path = std::string(arg.substr(9));
    } else if (arg == "--config" && i + 1 < argc) {
      flags->config_path = argv[++i];
    } else if (arg == "--check-config") {
      flags->check_config = true;
    } else if (arg == "--spool-check") {
      flags->spool_check = true;
    } else if (arg == "--version") {
      flags->version = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "volleyd: unknown flag '%s'\n%s", argv[i], kUsage);
      return false;
    }
  }
  return true;
}

// SIGHUP: re-reads the file; one with any error is refused whole and the running config stays.
void Reload(const std::string& config_path, volley::Engine& engine) {
  if (config_path.empty()) {
    LOG(WARNING) << "SIGHUP: running on the embedded defaults, there is no file to reload";
    return;
  }
  absl::StatusOr<volley::config::Config> loaded = volley::config::LoadConfigFile(config_path);
  if (!loaded.ok()) {
    LOG(ERROR) << "SIGHUP: " << config_path << " refused, the running configuration stays:\n"
               << loaded.status().message();
    return;
  }
  const volley::Engine::ReloadReport report = engine.Reload(*std::move(loaded));
  auto tables = [](const std::vector<std::string>& names) {
    return names.empty() ? std::string("none")
                         : absl::StrCat("[", absl::StrJoin(names, "], ["), "]");
  };
  // One line (one write), so that whoever waits for the answer reads all of it.
  std::string message =
      absl::StrCat("SIGHUP: reloaded ", config_path, ": applied ", tables(report.applied));
  if (!report.need_restart.empty()) {
    absl::StrAppend(&message, "; ", tables(report.need_restart),
                    " changed but take effect only at the next start (a reload applies ",
                    tables(std::vector<std::string>(std::begin(volley::config::kReloadableTables),
                                                    std::end(volley::config::kReloadableTables))),
                    ")");
  }
  LOG(INFO) << message;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 1;
  // After the whole command line parsed, so that a typo beside it still fails; before the
  // config, so that packaging scripts can ask any binary its version on any machine.
  if (flags.version) {
    std::printf("volleyd %s\n", volley::kVolleyVersion);
    return 0;
  }

  absl::StatusOr<volley::config::Config> config =
      flags.config_path.empty() ? volley::config::Config::Defaults()
                                : volley::config::LoadConfigFile(flags.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (flags.check_config) {
    std::printf("%s: OK\n",
                flags.config_path.empty() ? "embedded defaults" : flags.config_path.c_str());
    return 0;
  }
  if (flags.spool_check) {
    return volley::queue::RunSpoolCheck(config->server.spool, absl::Now(), stdout, stderr);
  }

  // Signals are taken synchronously by this thread (sigwait); every other thread inherits the
  // blocked mask, so no handler ever runs on a shard. A peer closing a socket must not kill us.
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<volley::queue::Spool>> spool =
      volley::queue::Spool::Open(config->server.spool);
  if (!spool.ok()) {
    std::fprintf(stderr, "volleyd: %s\n", std::string(spool.status().message()).c_str());
    return 2;
  }

  absl::StatusOr<std::unique_ptr<volley::Engine>> engine =
      volley::Engine::Start(*config, std::move(*spool));
  if (!engine.ok()) {
    std::fprintf(stderr, "volleyd: %s\n", std::string(engine.status().message()).c_str());
    // A spool that opened but could not be read is a spool problem, not a config one.
    return engine.status().code() == absl::StatusCode::kDataLoss ? 2 : 1;
  }
  const volley::Engine::RecoveryReport& recovery = (*engine)->recovery();
  LOG(INFO) << "volleyd ready: smtp=" << absl::StrJoin((*engine)->smtp_addresses(), ",")
            << " http=" << (*engine)->http_address() << " spool=" << config->server.spool
            << " queued_recipients=" << recovery.recipients
            << " startup_spool_ms=" << absl::ToInt64Milliseconds(recovery.duration);

  while (true) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number == SIGUSR1) {
      LOG(INFO) << "SIGUSR1: reopening the delivery log";
      (*engine)->ReopenLog();
      continue;
    }
    if (signal_number == SIGHUP) {
      Reload(flags.config_path, **engine);
      continue;
    }
    LOG(INFO) << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") << ": stopping";
    break;
  }
  (*engine)->Stop(absl::Seconds(10));
  LOG(INFO) << "volleyd stopped";
  return 0;
}
