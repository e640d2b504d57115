#include "engine/inject/listener_shared.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace volley::inject {

absl::StatusOr<std::unique_ptr<ListenerShared>> ListenerShared::Create(
    const config::SmtpListenerConfig& config, WorkerPool* auth_pool) {
  ClientLimits::Options limits;
  limits.max_connections_per_ip = config.max_connections_per_ip;
  limits.connection_rate_per_ip = config.max_connection_rate_per_ip;
  limits.message_rate_per_user = config.max_message_rate_per_user;
  limits.exempt = config.relay_networks;
  std::unique_ptr<ListenerShared> shared(new ListenerShared(config, std::move(limits)));
  if (config.tls != config::SmtpListenerTls::kNone) {
    absl::StatusOr<std::shared_ptr<tls::TlsContext>> tls = shared->LoadTls();
    if (!tls.ok()) return tls.status();
    shared->tls_ = *std::move(tls);
  }
  if (config.auth != config::SmtpListenerAuth::kNone) {
    absl::StatusOr<std::shared_ptr<const UserTable>> users = shared->LoadUsers();
    if (!users.ok()) return users.status();
    shared->checker_ = std::make_unique<CredentialChecker>(auth_pool, *std::move(users));
  }
  return shared;
}

absl::StatusOr<std::shared_ptr<tls::TlsContext>> ListenerShared::LoadTls() const {
  tls::TlsContextOptions options;
  options.role = tls::TlsContextOptions::Role::kServer;
  options.cert_file = config_.tls_cert;
  options.key_file = config_.tls_key;
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(options);
  if (!context.ok()) {
    return absl::Status(
        context.status().code(),
        absl::StrCat("listener ", config_.name, ": tls_cert ", config_.tls_cert, ", tls_key ",
                     config_.tls_key, ": ", context.status().message()));
  }
  return context;
}

absl::StatusOr<std::shared_ptr<const UserTable>> ListenerShared::LoadUsers() const {
  absl::StatusOr<UserTable> users = UserTable::Load(config_.auth_file);
  if (!users.ok()) {
    return absl::Status(
        users.status().code(),
        absl::StrCat("listener ", config_.name, ": auth_file: ", users.status().message()));
  }
  return std::make_shared<const UserTable>(*std::move(users));
}

absl::Status ListenerShared::Reload() {
  std::vector<std::string> failed;
  if (config_.tls != config::SmtpListenerTls::kNone) {
    absl::StatusOr<std::shared_ptr<tls::TlsContext>> tls = LoadTls();
    if (tls.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      tls_ = *std::move(tls);
    } else {
      failed.emplace_back(tls.status().message());
    }
  }
  if (checker_ != nullptr) {
    absl::StatusOr<std::shared_ptr<const UserTable>> users = LoadUsers();
    if (users.ok()) {
      checker_->Replace(*std::move(users));
    } else {
      failed.emplace_back(users.status().message());
    }
  }
  if (failed.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(absl::StrJoin(failed, "; "), " (the loaded version stays)"));
}

std::shared_ptr<tls::TlsContext> ListenerShared::tls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tls_;
}

}  // namespace volley::inject
