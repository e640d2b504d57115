// One outbound SMTP connection on a shard's loop: connects to the destination's hosts in order
// (next host on refusal, timeout, a refused greeting or, under required TLS, a failed TLS
// handshake), binds its egress source address, runs smtp::ClientSession over the socket (through a
// TLS session after STARTTLS, or from the first byte for implicit TLS), applies RFC 5321
// 4.5.3.2 timeouts per phase, and reports to its owner, the destination queue.
#ifndef VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_
#define VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_

#include <openssl/ssl.h>
#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/config/config.h"
#include "engine/smtp/client_session.h"
#include "tls/tls_context.h"
#include "tls/tls_session.h"

namespace volley::delivery {

struct ConnectTarget {
  std::string host_name;  // MX host name (or the route host) for logs, SNI and verification
  std::string address;    // numeric IP
  uint16_t port = 25;
};

struct ConnectionOptions {
  smtp::ProtocolOptions protocol;  // EHLO name, AUTH; STARTTLS flags are set from `tls`
  config::TlsPolicy tls = config::TlsPolicy::kOpportunistic;
  std::shared_ptr<tls::TlsContext> tls_context;  // a client context; needed unless disabled
  std::string source_address;  // egress: local address to bind; "" / 0.0.0.0 / :: = any
  std::string egress_pool;     // names, for log records
  std::string egress_source;
  config::SmtpTimeouts timeouts;
  // Connection attempts per connection (hosts x addresses), so one dead site cannot keep a
  // connection slot for hours.
  int max_targets = 10;
};

class SmtpConnection;

// The owner's side. All callbacks run on the loop thread; the connection must not be destroyed
// by the owner (it deletes itself after OnConnectionClosed).
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // The session is ready for a transaction (after EHLO, and again after each transaction the
  // owner did not follow up). Call StartTransaction, Quit, or nothing (the connection idles and
  // quits after idle_timeout).
  virtual void OnConnectionReady(SmtpConnection* connection) = 0;
  virtual void OnTransactionDone(SmtpConnection* connection,
                                 std::vector<smtp::RecipientOutcome> outcomes) = 0;

  struct CloseInfo {
    bool was_ready = false;            // a session was established on some host
    std::string error;                 // why the last attempt or the session ended ("" after QUIT)
    std::optional<smtp::Reply> reply;  // the server reply behind `error`, when there was one
    std::vector<smtp::RecipientOutcome> in_flight;  // outcomes of a transaction cut short
    // Every host tried refused with a 5xx greeting: the destination does not take mail.
    bool all_greetings_permanent = false;
  };
  // The connection is closed; it is deleted right after this returns.
  virtual void OnConnectionClosed(SmtpConnection* connection, CloseInfo info) = 0;

  // A host could not be used (connection refused or timed out, greeting refused, TLS failed),
  // so the owner can skip it for a while.
  virtual void OnTargetFailed(const ConnectTarget& target) { (void)target; }
  // STARTTLS failed under the opportunistic policy: the connection retries this host once in
  // plaintext; the owner may remember to skip TLS with it for a while.
  virtual void OnOpportunisticTlsFailed(const ConnectTarget& target) { (void)target; }
  // Whether to skip STARTTLS with this host (after such a failure), under the opportunistic
  // policy.
  virtual bool SkipTlsWith(const ConnectTarget& target) {
    (void)target;
    return false;
  }
  // TLS session resumption: the session to offer to a host, and a new one to keep.
  virtual SSL_SESSION* TlsSessionFor(const ConnectTarget& target) {
    (void)target;
    return nullptr;
  }
  virtual void OnTlsSession(const ConnectTarget& target, bssl::UniquePtr<SSL_SESSION> session) {
    (void)target;
    (void)session;
  }
  virtual void OnTlsHandshake(bool ok) { (void)ok; }
};

class SmtpConnection {
 public:
  // Starts connecting at once. `targets` is non-empty.
  static SmtpConnection* Start(uv_loop_t* loop, ConnectionOwner* owner,
                               std::vector<ConnectTarget> targets,
                               const ConnectionOptions& options);

  // Only when ready and idle.
  void StartTransaction(smtp::Transaction transaction);
  // Ends the session politely (QUIT) when idle; otherwise once the transaction is done.
  void Quit();
  // Closes at once; a transaction in flight fails with a transient outcome.
  void Abort(absl::string_view reason);

  bool idle() const {
    return ready_ && protocol_ && protocol_->phase() == smtp::ClientSession::Phase::kIdle;
  }
  bool ready() const { return ready_; }
  int transactions() const { return protocol_ ? protocol_->transactions() : 0; }
  // The host currently connected (or the last one tried).
  const ConnectTarget& target() const {
    return targets_[std::min(target_index_, targets_.size() - 1)];
  }
  // The TLS in use ("" without TLS), for log records.
  const std::string& tls_version() const { return tls_version_; }
  const std::string& tls_cipher() const { return tls_cipher_; }
  const ConnectionOptions& options() const { return options_; }

 private:
  SmtpConnection(uv_loop_t* loop, ConnectionOwner* owner, std::vector<ConnectTarget> targets,
                 const ConnectionOptions& options);
  ~SmtpConnection();

  struct Socket;
  void ConnectNext();
  void OnConnected(int status);
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  // Bytes from the server, after TLS if any.
  void OnPlaintext(absl::string_view bytes);
  void Write(std::string bytes);
  void WriteRaw(std::string bytes);
  void StartTls();
  void OnTlsFailed(const std::string& why);
  void ArmTimer();
  void OnTimeout();
  // Ends the current attempt; with `try_next`, moves on to the next target.
  void CloseSocket(bool try_next, std::string error, std::optional<smtp::Reply> reply,
                   std::vector<smtp::RecipientOutcome> in_flight);
  void OnSocketClosed();
  void Finish();
  std::string Where() const;

  uv_loop_t* loop_;
  ConnectionOwner* owner_;
  std::vector<ConnectTarget> targets_;
  size_t target_index_ = 0;
  ConnectionOptions options_;
  Socket* socket_ = nullptr;  // the current attempt's TCP handle (freed in its close callback)
  uv_timer_t* timer_ = nullptr;
  std::unique_ptr<smtp::ClientSession> protocol_;
  std::unique_ptr<tls::TlsSession> tls_;
  bool tls_handshaking_ = false;
  bool tls_session_stored_ = false;
  // The next attempt goes to the same host without STARTTLS (opportunistic fallback).
  bool retry_plaintext_ = false;
  bool plaintext_only_ = false;
  std::string tls_version_;
  std::string tls_cipher_;
  bool ready_ = false;
  bool quit_requested_ = false;
  bool closing_ = false;
  bool try_next_after_close_ = false;
  int targets_tried_ = 0;
  int permanent_greetings_ = 0;
  ConnectionOwner::CloseInfo close_info_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_
