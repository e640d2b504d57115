// A libuv TCP listener that runs a ServerSession per connection. Used by the injection server
// (one listener per shard on the same address, SO_REUSEPORT spreading connections over the
// shards) and by the test and benchmark sink.
#ifndef VOLLEY_ENGINE_SMTP_SMTP_LISTENER_H_
#define VOLLEY_ENGINE_SMTP_SMTP_LISTENER_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/smtp/server_session.h"

namespace volley::smtp {

struct ListenerOptions {
  std::string address = "127.0.0.1";  // numeric IPv4 or IPv6
  uint16_t port = 0;                  // 0: pick a free port (see port())
  bool reuse_port = true;             // SO_REUSEPORT, so several loops can share the port
  int max_connections = 1000;         // beyond: 421 4.3.2 and close
  absl::Duration idle_timeout = absl::Minutes(5);  // RFC 5321 4.5.3.2.7; zero: none
  // Holds every write (greeting and replies) this long before sending it, in order. For the
  // test sink, to trigger the delivery client's timeouts; zero in production.
  absl::Duration reply_delay = absl::ZeroDuration();
  // Called with +1 when a connection is accepted and -1 when its session ends (the session
  // closes it, e.g. after QUIT, or the connection drops), for metrics and the test sink's
  // connection counts. Optional; runs on the loop thread.
  std::function<void(int delta)> on_connections_changed;
  // TLS from the first byte (port 465 style, RFC 8314) with session.tls, which must then be
  // set. Otherwise a set session.tls offers STARTTLS.
  bool implicit_tls = false;
  // Test fault (for the sink): offer STARTTLS (session.tls not needed), answer its 220, then
  // write bytes that are not TLS and close, so that the client's handshake fails.
  bool break_starttls = false;
  ServerSessionOptions session;
};

// All methods and callbacks run on the loop's thread. Connection objects are freed in their
// uv_close callbacks.
//
// TLS: after the session's 220 to STARTTLS (and from the start with implicit_tls) the
// connection runs a tls::TlsSession (server) over memory BIOs: socket bytes go through it, and
// only decrypted bytes reach the session, so that nothing the client sent in the clear after
// STARTTLS is ever taken for a command. A failed handshake (or a bad record) closes the
// connection.
class SmtpListener {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpListener>> Create(uv_loop_t* loop,
                                                              const ListenerOptions& options,
                                                              ServerSessionHandler* handler);
  ~SmtpListener();

  uint16_t port() const;
  int open_connections() const;

  // Stops accepting. Each session is shut down (421 4.3.2 at its next command; a transaction
  // with the handler finishes first); connections still open after `grace` are closed hard.
  // `done` runs once the listening socket and every connection are closed. The listener may be
  // destroyed after `done`.
  void Close(absl::Duration grace, absl::AnyInvocable<void()> done);

 private:
  class Impl;
  explicit SmtpListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_SMTP_LISTENER_H_
