// What the shards of one SMTP listener share: its TLS server context and its AUTH users, both
// read from files at start (an error stops the start, naming the file) and again on SIGHUP (an
// error keeps what was loaded), and its per-client limits.
#ifndef VOLLEY_ENGINE_INJECT_LISTENER_SHARED_H_
#define VOLLEY_ENGINE_INJECT_LISTENER_SHARED_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/config/config.h"
#include "engine/inject/client_limits.h"
#include "engine/inject/credential_checker.h"
#include "engine/runtime/worker_pool.h"
#include "tls/tls_context.h"

namespace volley::inject {

// Thread-safe: every shard's listener reads it, the signal thread reloads it.
class ListenerShared {
 public:
  // `auth_pool` (where credentials are checked) must outlive it.
  static absl::StatusOr<std::unique_ptr<ListenerShared>> Create(
      const config::SmtpListenerConfig& config, WorkerPool* auth_pool);

  // Reads the certificate, key and users file again. Each that fails to load keeps its old
  // version; the status names what failed.
  absl::Status Reload();

  // The context for new handshakes (null without TLS).
  std::shared_ptr<tls::TlsContext> tls() const;
  // Null without AUTH.
  CredentialChecker* checker() const { return checker_.get(); }
  ClientLimits* limits() { return &limits_; }
  const config::SmtpListenerConfig& config() const { return config_; }

 private:
  ListenerShared(const config::SmtpListenerConfig& config, ClientLimits::Options limits)
      : config_(config), limits_(std::move(limits)) {}
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> LoadTls() const;
  absl::StatusOr<std::shared_ptr<const UserTable>> LoadUsers() const;

  const config::SmtpListenerConfig config_;
  mutable std::mutex mutex_;
  std::shared_ptr<tls::TlsContext> tls_;  // guarded by mutex_
  std::unique_ptr<CredentialChecker> checker_;
  ClientLimits limits_;
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_LISTENER_SHARED_H_
