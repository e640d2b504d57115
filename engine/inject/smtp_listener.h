// An SMTP server listener: accepts TCP connections on a shard's loop and runs a
// smtp::ServerSession over each (through TLS after STARTTLS, or from the first byte with
// implicit TLS). The injection listener runs one per shard on the same address (SO_REUSEPORT
// spreads the connections); the project's test and benchmark sinks run it too, with their own
// handlers.
#ifndef VOLLEY_ENGINE_INJECT_SMTP_LISTENER_H_
#define VOLLEY_ENGINE_INJECT_SMTP_LISTENER_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/net/stream.h"
#include "engine/smtp/server_session.h"

namespace volley::inject {

struct SmtpListenerOptions {
  std::string address = "127.0.0.1";  // numeric IPv4 or IPv6
  uint16_t port = 0;                  // 0: pick a free port (see port())
  bool reuse_port = true;             // SO_REUSEPORT, so several loops can share the port
  // Sessions at once; beyond: 421 4.3.2 and close. A connection that has had its last reply and
  // lingers (see `linger`) no longer counts: the client is done with it.
  int max_connections = 1000;
  // Deadlines, so that a slow client cannot hold a connection (each answered 421 4.4.2, then
  // closed): a command line must arrive within command_timeout of the session waiting for it
  // (RFC 5321 4.5.3.2.7; zero: none); DATA or a BDAT chunk may take command_timeout plus one
  // second per min_data_rate octets received (0: no rate); a session is asked to end (at its
  // next command) after session_timeout (zero: never). Time the handler or a credential check
  // takes is not the client's.
  absl::Duration command_timeout = absl::Minutes(5);
  uint64_t min_data_rate = 0;
  absl::Duration session_timeout = absl::ZeroDuration();
  // Per-client admission (ClientLimits): a reply refuses the new connection (sent in the clear
  // unless implicit_tls, then closed); nullopt admits it, and on_leave is called with the
  // client's address when it ends. Optional; on the loop thread.
  std::function<std::optional<smtp::Reply>(const std::string& peer)> admit;
  std::function<void(const std::string& peer)> on_leave;
  // The server context for each new handshake, when set (instead of session.tls, which is then
  // ignored): certificates reloaded on SIGHUP serve the connections that come after. Called on
  // the loop thread.
  std::function<std::shared_ptr<tls::TlsContext>()> tls_context;
  // Each refusal the listener makes itself, by reason: "connections" (max_connections),
  // "command_timeout", "data_rate", "session_timeout". Optional; on the loop thread.
  std::function<void(absl::string_view reason)> on_refusal;
  // After its last reply a session sends FIN and reads (discarding) for this long before closing:
  // closing with unread input makes the kernel send RST, which can destroy the reply (a 421 or
  // 221) before the client has read it.
  absl::Duration linger = absl::Seconds(2);
  // Called with +1 when a connection is accepted and -1 when its session ends (it starts to
  // linger, or the connection drops), on the loop thread. Optional.
  std::function<void(int delta)> on_connections_changed;
  // Puts something between each accepted connection and its session (a PROXY-protocol reader,
  // a rate limiter; the test sink's fault injection). Optional; on the loop thread.
  std::function<std::unique_ptr<net::Stream>(uv_loop_t* loop, std::unique_ptr<net::Stream>)>
      wrap_stream;
  // TLS from the first byte (port 465 style, RFC 8314) with session.tls (or tls_context), which
  // must then be set. Otherwise a set session.tls (or tls_context) offers STARTTLS.
  bool implicit_tls = false;
  smtp::ServerSessionOptions session;
};

// All methods and callbacks run on the loop's thread.
//
// TLS: after the session's 220 to STARTTLS (and from the start with implicit_tls) the connection
// runs a net::TlsStream: only decrypted bytes reach the session, so nothing the client sent in
// the clear after STARTTLS is ever taken for a command. A failed handshake (or a bad record)
// closes the connection.
class SmtpListener {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpListener>> Create(uv_loop_t* loop,
                                                              SmtpListenerOptions options,
                                                              smtp::ServerSessionHandler* handler);
  ~SmtpListener();  // closes what is still open at once

  uint16_t port() const;
  // Sessions that have not ended yet.
  int open_connections() const;

  // Stops accepting. Each session is shut down (421 4.3.2 at its next command; a transaction
  // with the handler finishes first); connections still open after `grace` are closed hard.
  // `done` runs once every session has ended. The listener may be destroyed in `done`.
  void Close(absl::Duration grace, absl::AnyInvocable<void()> done);

 private:
  class Impl;
  explicit SmtpListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_SMTP_LISTENER_H_
