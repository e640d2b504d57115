// One outbound SMTP connection on a shard's loop: connects to the destination's hosts in order
// (next host on refusal, timeout, a refused greeting or, under required TLS, a failed TLS
// handshake), binds its egress source address, runs smtp::ClientSession over a net::TcpStream
// (through a net::TlsStream after STARTTLS, or from the first byte for implicit TLS), applies
// RFC 5321 4.5.3.2 timeouts per phase, and reports to its owner, the site's connection pool.
#ifndef VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_
#define VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/base/thread_checker.h"
#include "engine/delivery/delivery_connection.h"
#include "engine/net/stream.h"
#include "engine/net/tls_stream.h"
#include "engine/runtime/timer.h"
#include "engine/smtp/client_session.h"

namespace volley::delivery {

// All calls and callbacks on the loop's thread. Deletes itself after telling its owner it has
// closed (on a later loop turn than the close, never inside a callback of its own).
class SmtpConnection final : public DeliveryConnection {
 public:
  // Starts connecting at once. `targets` is non-empty.
  static SmtpConnection* Start(uv_loop_t* loop, ConnectionOwner* owner,
                               std::vector<ConnectTarget> targets,
                               const ConnectionOptions& options);

  void StartTransaction(smtp::Transaction transaction) override;
  void Quit() override;
  void Abort(absl::string_view reason) override;
  int transactions() const override { return session_ ? session_->transactions() : 0; }
  const ConnectTarget& target() const override {
    return targets_[std::min(target_index_, targets_.size() - 1)];
  }
  const std::string& tls_version() const override { return tls_version_; }
  const std::string& tls_cipher() const override { return tls_cipher_; }
  const ConnectionOptions& options() const override { return options_; }
  bool offers_dsn() const override { return session_ && session_->capabilities().dsn; }

 private:
  SmtpConnection(uv_loop_t* loop, ConnectionOwner* owner, std::vector<ConnectTarget> targets,
                 const ConnectionOptions& options);
  ~SmtpConnection() override;

  bool idle() const {
    return ready_ && session_ && session_->phase() == smtp::ClientSession::Phase::kIdle;
  }
  bool attempt_open() const { return stream_ != nullptr && !attempt_closing_; }
  void ConnectNext();
  void OnConnected(const absl::Status& status);
  void StartSession();
  smtp::ClientSession::Callbacks SessionCallbacks();
  void OnSessionFailed(const smtp::SessionError& error,
                       std::vector<smtp::RecipientOutcome> in_flight);
  void SetStreamCallbacks();
  void OnData(absl::string_view bytes);
  void OnEnd(const absl::Status& status);
  void StartTls();
  void OnTlsEstablished(net::TlsStream* tls);
  void OnTlsFailed(const std::string& why);
  void ArmTimer();
  absl::Duration PhaseTimeout() const;
  void OnTimeout();
  // Ends the current attempt; with `try_next`, moves on to the next target once it is closed.
  void CloseAttempt(bool try_next, std::string error, std::optional<smtp::Reply> reply,
                    std::vector<smtp::RecipientOutcome> in_flight);
  // After CloseAttempt, on the next loop turn: the session's callbacks may have been on the
  // stack when the attempt closed; now they are not.
  void AfterAttemptClosed();
  void Finish();
  std::string Where() const;

  uv_loop_t* const loop_;
  ConnectionOwner* const owner_;
  const std::vector<ConnectTarget> targets_;
  size_t target_index_ = 0;
  const ConnectionOptions options_;
  ThreadChecker thread_;
  std::unique_ptr<net::Stream> stream_;  // the current attempt's connection (TCP, or TLS on it)
  std::unique_ptr<smtp::ClientSession> session_;
  Timer timer_;     // the phase timeouts
  Timer deferred_;  // AfterAttemptClosed, and the final report
  bool tls_handshaking_ = false;
  bool tls_session_stored_ = false;
  net::TlsStream* tls_ = nullptr;  // stream_ once TLS is on
  // The next attempt goes to the same host without STARTTLS (opportunistic fallback).
  bool retry_plaintext_ = false;
  bool plaintext_only_ = false;
  std::string tls_version_;
  std::string tls_cipher_;
  bool ready_ = false;
  bool quit_requested_ = false;
  bool attempt_closing_ = false;
  bool try_next_after_close_ = false;
  bool finished_ = false;
  int targets_tried_ = 0;
  int permanent_greetings_ = 0;
  ConnectionOwner::CloseInfo close_info_;
};

// The production ConnectionFactory.
ConnectionFactory SmtpConnectionFactory();

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_
