// One outbound SMTP connection on a shard's loop: connects to the destination's hosts in order
// (next host on refusal, timeout or a refused greeting), runs ClientProtocol over it, applies
// RFC 5321 4.5.3.2 timeouts per phase, and reports to its owner, the destination queue.
#ifndef VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_
#define VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/delivery/client_protocol.h"

namespace volley::delivery {

struct ConnectTarget {
  std::string host_name;  // MX host name (or the route host) for logs
  std::string address;    // numeric IP
  uint16_t port = 25;
};

struct ConnectionOptions {
  std::string ehlo_name = "volley.localdomain";
  absl::Duration connect_timeout = absl::Seconds(60);
  absl::Duration banner_timeout = absl::Minutes(5);
  absl::Duration ehlo_timeout = absl::Minutes(5);
  absl::Duration mail_from_timeout = absl::Minutes(5);
  absl::Duration rcpt_to_timeout = absl::Minutes(5);
  absl::Duration data_timeout = absl::Minutes(2);
  absl::Duration data_dot_timeout = absl::Minutes(10);
  absl::Duration idle_timeout = absl::Seconds(60);
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
                                 std::vector<RecipientOutcome> outcomes) = 0;

  struct CloseInfo {
    bool was_ready = false;            // a session was established on some host
    std::string error;                 // why the last attempt or the session ended ("" after QUIT)
    std::optional<smtp::Reply> reply;  // the server reply behind `error`, when there was one
    std::vector<RecipientOutcome> in_flight;  // outcomes of a transaction cut short
  };
  // The connection is closed; it is deleted right after this returns.
  virtual void OnConnectionClosed(SmtpConnection* connection, CloseInfo info) = 0;
};

class SmtpConnection {
 public:
  // Starts connecting at once. `targets` is non-empty.
  static SmtpConnection* Start(uv_loop_t* loop, ConnectionOwner* owner,
                               std::vector<ConnectTarget> targets,
                               const ConnectionOptions& options);

  // Only when ready and idle.
  void StartTransaction(Transaction transaction);
  // Ends the session politely (QUIT) when idle; otherwise once the transaction is done.
  void Quit();
  // Closes at once; a transaction in flight fails with a transient outcome.
  void Abort(absl::string_view reason);

  bool idle() const {
    return ready_ && protocol_ && protocol_->phase() == ClientProtocol::Phase::kIdle;
  }
  bool ready() const { return ready_; }
  int transactions() const { return protocol_ ? protocol_->transactions() : 0; }
  // The host currently connected (or the last one tried).
  const ConnectTarget& target() const {
    return targets_[std::min(target_index_, targets_.size() - 1)];
  }

 private:
  SmtpConnection(uv_loop_t* loop, ConnectionOwner* owner, std::vector<ConnectTarget> targets,
                 const ConnectionOptions& options);
  ~SmtpConnection();

  struct Socket;
  void ConnectNext();
  void OnConnected(int status);
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void Write(std::string bytes);
  void ArmTimer();
  void OnTimeout();
  // Ends the current attempt; with `try_next`, moves on to the next target.
  void CloseSocket(bool try_next, std::string error, std::optional<smtp::Reply> reply,
                   std::vector<RecipientOutcome> in_flight);
  void OnSocketClosed();
  void Finish();

  uv_loop_t* loop_;
  ConnectionOwner* owner_;
  std::vector<ConnectTarget> targets_;
  size_t target_index_ = 0;
  ConnectionOptions options_;
  Socket* socket_ = nullptr;  // the current attempt's TCP handle (freed in its close callback)
  uv_timer_t* timer_ = nullptr;
  std::unique_ptr<ClientProtocol> protocol_;
  bool ready_ = false;
  bool quit_requested_ = false;
  bool closing_ = false;
  bool try_next_after_close_ = false;
  ConnectionOwner::CloseInfo close_info_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SMTP_CONNECTION_H_
