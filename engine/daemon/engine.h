// The running daemon, and the composition root: the spool writer, the delivery log, the
// metrics and one Worker per shard (its delivery, injection and listeners; the HTTP API on
// shard 0), wired together. main.cc owns process concerns (flags, signals, exit codes); this
// owns the life of the engine.
#ifndef VOLLEY_ENGINE_DAEMON_ENGINE_H_
#define VOLLEY_ENGINE_DAEMON_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "queue/spool.h"

namespace volley {

class Engine {
 public:
  // Starts everything on an opened spool: recovers what it holds, then listens. On error,
  // whatever was started is stopped again.
  static absl::StatusOr<std::unique_ptr<Engine>> Start(const config::Config& config,
                                                       std::unique_ptr<queue::Spool> spool);
  ~Engine();

  // Graceful stop: listeners close (sessions finish their current transaction, at most
  // `grace`), delivery stops (transactions in flight get `grace`, then are abandoned and stay
  // queued), the spool is flushed and closed. Blocks until done. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(10));

  // SIGHUP: delivery follows the [shaping], [routes] and [egress] tables of `loaded` (a file
  // parsed and checked whole) from the next connection or transaction on; connections stay open
  // and queued mail stays queued. The other tables keep what the engine started with. Returns
  // the tables that changed: applied, and those that need a restart.
  struct ReloadReport {
    std::vector<std::string> applied;
    std::vector<std::string> need_restart;
  };
  ReloadReport Reload(config::Config loaded);

  // Reopens the delivery log file (after logrotate moved it).
  void ReopenLog();

  // Bound addresses, e.g. "127.0.0.1:2525", in the order of the config.
  std::vector<std::string> smtp_addresses() const;
  std::string http_address() const;

  struct RecoveryReport {
    uint64_t recipients = 0;  // queued in the spool at start
    absl::Duration duration;  // to read what starting needs from the spool
  };
  const RecoveryReport& recovery() const;

 private:
  class Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_DAEMON_ENGINE_H_
