#include "engine/inject/smtp_listener.h"

#include <algorithm>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/thread_checker.h"
#include "engine/net/tcp_listener.h"
#include "engine/net/tls_stream.h"
#include "engine/runtime/timer.h"
#include "engine/smtp/local_replies.h"
#include "tls/tls_context.h"

namespace volley::inject {

class SmtpListener::Impl {
 public:
  Impl(uv_loop_t* loop, SmtpListenerOptions options, smtp::ServerSessionHandler* handler)
      : loop_(loop),
        options_(std::move(options)),
        handler_(handler),
        reaper_(loop, [this] { Reap(); }),
        grace_timer_(loop, [this] { OnGraceExpired(); }) {}

  ~Impl() {
    // Whatever is still open goes now; streams that linger finish on their own.
    for (Connection* c : connections_) delete c;
    for (Connection* c : ended_) delete c;
  }

  absl::Status Listen() {
    if (options_.implicit_tls && !HasTls()) {
      return absl::InvalidArgumentError("SMTP listener: implicit_tls needs session.tls");
    }
    if (options_.session.tls != nullptr &&
        options_.session.tls->role() != tls::TlsContextOptions::Role::kServer) {
      return absl::InvalidArgumentError("SMTP listener: session.tls is not a server context");
    }
    net::ListenOptions listen;
    listen.address = options_.address;
    listen.port = options_.port;
    listen.reuse_port = options_.reuse_port;
    absl::StatusOr<std::unique_ptr<net::TcpListener>> listener = net::TcpListener::Listen(
        loop_, listen,
        [this](std::unique_ptr<net::TcpStream> stream) { Accept(std::move(stream)); });
    if (!listener.ok()) return listener.status();
    listener_ = *std::move(listener);
    return absl::OkStatus();
  }

  uint16_t port() const { return listener_ != nullptr ? listener_->port() : 0; }
  int open_connections() const { return static_cast<int>(connections_.size()); }

  void Close(absl::Duration grace, absl::AnyInvocable<void()> done) {
    DCHECK(thread_.InLoopThread());
    if (closing_) {
      LOG(WARNING) << "SmtpListener::Close called twice";
      return;
    }
    closing_ = true;
    close_done_ = std::move(done);
    listener_.reset();
    // A session may end at once (its transport closes it), which only moves it to ended_.
    std::vector<Connection*> open(connections_.begin(), connections_.end());
    for (Connection* c : open) c->session->Shutdown();
    grace_timer_.Start(grace);
    MaybeFinishClose();
  }

 private:
  // One client connection. Lives in connections_ while its session runs, then in ended_ until
  // the reaper deletes it on the next loop turn: the session may end from inside its own call
  // stack, which must not be unwound into a deleted object.
  struct Connection {
    std::unique_ptr<net::Stream> stream;
    std::unique_ptr<smtp::ServerSession> session;
    std::string peer;
    bool admitted = false;  // by options_.admit: on_leave is due when it ends
    // The deadlines (see SmtpListenerOptions): what the session waited for when last looked
    // at, since when (uv_now()), and its progress then.
    std::unique_ptr<Timer> deadline_timer;
    smtp::ServerSession::Waiting waiting = smtp::ServerSession::Waiting::kNothing;
    uint64_t waiting_since = 0;
    uint64_t lines_then = 0;
    uint64_t bytes_then = 0;
    uint64_t started = 0;
    bool session_timed_out = false;
    bool tls_pending = false;  // implicit TLS: the greeting waits for the handshake
    bool ended = false;
    std::list<Connection*>::iterator position;
  };

  bool HasTls() const { return options_.tls_context != nullptr || options_.session.tls != nullptr; }

  void Accept(std::unique_ptr<net::TcpStream> tcp) {
    if (closing_) return;  // dropped: the listener is going
    std::unique_ptr<net::Stream> stream = std::move(tcp);
    if (options_.wrap_stream) stream = options_.wrap_stream(loop_, std::move(stream));
    std::optional<smtp::Reply> refusal;
    if (open_connections() >= options_.max_connections) {
      refusal =
          smtp::MakeLocalReply(smtp::LocalReply::kTooManyConnections, options_.session.hostname);
      if (options_.on_refusal) options_.on_refusal("connections");
    }
    std::string peer = stream->peer_address();
    if (!refusal.has_value() && options_.admit) refusal = options_.admit(peer);
    if (refusal.has_value()) {
      // (A client expecting TLS could not read the 421: it just sees the connection close.)
      if (!options_.implicit_tls) stream->Write(refusal->ToWire());
      // Counted while it is told, as the sessions are: the client sees it accepted.
      Count(+1);
      Count(-1);
      stream->Shutdown(options_.linger);  // lingers on its own once released
      return;
    }
    auto* c = new Connection;
    c->position = connections_.insert(connections_.end(), c);
    c->stream = std::move(stream);
    c->peer = std::move(peer);
    c->admitted = options_.admit != nullptr;
    Count(+1);
    StartSession(c);
  }

  void StartSession(Connection* c) {
    smtp::ServerSession::Transport transport;
    transport.write = [this, c](std::string bytes) { Write(c, std::move(bytes)); };
    transport.close = [this, c] { End(c, /*graceful=*/true); };
    if (HasTls() && !options_.implicit_tls) {
      transport.start_tls = [this, c] { StartTls(c); };
    }
    const std::string local = c->stream->local_address();
    c->session = std::make_unique<smtp::ServerSession>(options_.session, handler_,
                                                       std::move(transport), c->peer, local);
    c->session->set_resume_reading([this, c] { Resume(c); });
    c->started = uv_now(loop_);
    SetStreamCallbacks(c);
    if (absl::Status reading = c->stream->StartReading(); !reading.ok()) {
      LOG_EVERY_N_SEC(WARNING, 5) << "SMTP listener: " << reading;
      End(c, /*graceful=*/false);
      return;
    }
    if (options_.command_timeout > absl::ZeroDuration() ||
        options_.session_timeout > absl::ZeroDuration()) {
      c->deadline_timer = std::make_unique<Timer>(loop_, [this, c] { OnDeadline(c); });
    }
    if (options_.implicit_tls) {
      c->tls_pending = true;
      StartTls(c);  // the greeting waits for the handshake
      if (!c->ended) Track(c);
      return;
    }
    c->session->Start();
    if (!c->ended) Track(c);
  }

  void SetStreamCallbacks(Connection* c) {
    c->stream->SetCallbacks(net::StreamCallbacks{
        .on_data = [this, c](absl::string_view bytes) { OnData(c, bytes); },
        .on_end =
            [this, c](const absl::Status&) {
              // The peer is gone, or TLS failed: a message already with the handler is not
              // affected; its reply finds the session closed.
              c->session->OnDisconnect();
              End(c, /*graceful=*/true);
            },
    });
  }

  void OnData(Connection* c, absl::string_view bytes) {
    // If these bytes hold a STARTTLS, the session switches the connection to TLS while it takes
    // them (StartTls) and drops whatever follows the command.
    c->session->Feed(bytes);
    if (c->ended) return;
    if (!c->session->closed() && !c->session->wants_input()) c->stream->StopReading();
    Track(c);
  }

  void Write(Connection* c, std::string bytes) { c->stream->Write(std::move(bytes)); }

  void Resume(Connection* c) {
    Track(c);
    if (absl::Status reading = c->stream->StartReading(); !reading.ok()) {
      c->session->OnDisconnect();
      End(c, /*graceful=*/false);
    }
  }

  // From now on the connection speaks TLS. Called by the session right after its 220 to
  // STARTTLS was written (so that reply goes out in the clear, before any TLS record), or at
  // accept time with implicit TLS.
  void StartTls(Connection* c) {
    absl::StatusOr<std::unique_ptr<net::TlsStream>> tls = net::TlsStream::Server(
        std::move(c->stream), options_.tls_context ? options_.tls_context() : options_.session.tls);
    if (!tls.ok()) {
      LOG_EVERY_N_SEC(ERROR, 5) << "SMTP listener " << options_.address << ":" << port()
                                << ": cannot start TLS: " << tls.status();
      c->session->OnDisconnect();
      End(c, /*graceful=*/false);
      return;
    }
    net::TlsStream* raw = tls->get();
    raw->set_on_established([this, c, raw] {
      c->session->OnTlsEstablished(raw->session().protocol_version(), raw->session().cipher());
      if (c->tls_pending) {
        c->tls_pending = false;
        c->session->Start();
      }
    });
    c->stream = *std::move(tls);
    SetStreamCallbacks(c);
  }

  // Notes what the session waits for now, restarting the clock when that changed or the
  // client made progress (a line read, a new message), and arms the deadline timer when it is
  // not set. Cheap: called after every read.
  void Track(Connection* c) {
    if (c->deadline_timer == nullptr) return;
    const uint64_t now = uv_now(loop_);
    const smtp::ServerSession::Waiting waiting = c->session->waiting();
    const uint64_t lines = c->session->lines_read();
    const uint64_t bytes = c->session->content_bytes();
    using Waiting = smtp::ServerSession::Waiting;
    const bool progress = waiting != c->waiting ||
                          (waiting == Waiting::kCommand && lines != c->lines_then) ||
                          (waiting == Waiting::kContent && bytes < c->bytes_then);
    if (progress) {
      c->waiting = waiting;
      c->waiting_since = now;
      c->lines_then = lines;
      c->bytes_then = bytes;
    }
    if (!c->deadline_timer->active()) ArmDeadline(c, now);
  }

  // The earliest deadline in loop milliseconds (UINT64_MAX: none).
  uint64_t NextDeadline(const Connection* c) const {
    uint64_t deadline = UINT64_MAX;
    if (options_.session_timeout > absl::ZeroDuration() && !c->session_timed_out) {
      deadline = c->started + ToLoopMillis(options_.session_timeout);
    }
    if (options_.command_timeout <= absl::ZeroDuration()) return deadline;
    uint64_t wait = ToLoopMillis(options_.command_timeout);
    using Waiting = smtp::ServerSession::Waiting;
    if (c->waiting == Waiting::kNothing) return deadline;
    if (c->waiting == Waiting::kContent && options_.min_data_rate > 0) {
      const uint64_t received = c->session->content_bytes() - c->bytes_then;
      wait += received * 1000 / options_.min_data_rate;
    }
    return std::min(deadline, c->waiting_since + wait);
  }

  void ArmDeadline(Connection* c, uint64_t now) {
    uint64_t deadline = NextDeadline(c);
    if (deadline == UINT64_MAX) {
      // Waiting on the handler: look again later (Track re-arms sooner on any change).
      if (options_.command_timeout <= absl::ZeroDuration()) return;
      deadline = now + ToLoopMillis(options_.command_timeout);
    }
    c->deadline_timer->Start(
        absl::Milliseconds(static_cast<int64_t>(deadline > now ? deadline - now : 0)));
  }

  void OnDeadline(Connection* c) {
    Track(c);
    const uint64_t now = uv_now(loop_);
    if (options_.session_timeout > absl::ZeroDuration() && !c->session_timed_out &&
        now >= c->started + ToLoopMillis(options_.session_timeout)) {
      // Not in the middle of a message: the session ends at its next command.
      c->session_timed_out = true;
      Refused("session_timeout");
      c->session->Shutdown(
          smtp::MakeLocalReply(smtp::LocalReply::kSessionTimeout, options_.session.hostname));
      if (c->ended) return;
    }
    const uint64_t deadline = NextDeadline(c);
    if (now < deadline || c->waiting == smtp::ServerSession::Waiting::kNothing) {
      ArmDeadline(c, now);
      return;
    }
    const bool content = c->waiting == smtp::ServerSession::Waiting::kContent;
    Refused(content ? "data_rate" : "command_timeout");
    c->session->OnDisconnect();
    c->stream->Write(smtp::MakeLocalReply(
                         content ? smtp::LocalReply::kDataTooSlow : smtp::LocalReply::kIdleTimeout,
                         options_.session.hostname)
                         .ToWire());
    End(c, /*graceful=*/true);
  }

  void Refused(absl::string_view reason) {
    if (options_.on_refusal) options_.on_refusal(reason);
  }

  // The session is over: the stream says goodbye politely (what is written goes out, then FIN
  // and the linger) or is closed at once.
  void End(Connection* c, bool graceful) {
    if (c->ended) return;
    c->ended = true;
    Count(-1);
    c->deadline_timer.reset();
    if (c->admitted && options_.on_leave) options_.on_leave(c->peer);
    if (c->stream != nullptr) {
      if (graceful) {
        c->stream->Shutdown(options_.linger);
      } else {
        c->stream->Close();
      }
    }
    // The stream object may go with the connection: after Shutdown it lingers on its own.
    connections_.erase(c->position);
    ended_.push_back(c);
    reaper_.Start(absl::ZeroDuration());
    MaybeFinishClose();
  }

  void Reap() {
    std::vector<Connection*> ended;
    ended.swap(ended_);
    for (Connection* c : ended) delete c;
    MaybeFinishClose();
  }

  void OnGraceExpired() {
    std::vector<Connection*> open(connections_.begin(), connections_.end());
    for (Connection* c : open) {
      c->session->OnDisconnect();
      End(c, /*graceful=*/false);
    }
  }

  void Count(int delta) {
    if (options_.on_connections_changed) options_.on_connections_changed(delta);
  }

  void MaybeFinishClose() {
    if (!closing_ || !connections_.empty() || !ended_.empty() || !close_done_) return;
    grace_timer_.Stop();
    // `done` may destroy the listener (and this Impl): nothing may touch `this` after it.
    absl::AnyInvocable<void()> done = std::move(close_done_);
    close_done_ = nullptr;
    done();
  }

  uv_loop_t* const loop_;
  ThreadChecker thread_;
  const SmtpListenerOptions options_;
  smtp::ServerSessionHandler* const handler_;
  std::unique_ptr<net::TcpListener> listener_;
  std::list<Connection*> connections_;
  std::vector<Connection*> ended_;
  Timer reaper_;
  Timer grace_timer_;
  bool closing_ = false;
  absl::AnyInvocable<void()> close_done_;
};

absl::StatusOr<std::unique_ptr<SmtpListener>> SmtpListener::Create(
    uv_loop_t* loop, SmtpListenerOptions options, smtp::ServerSessionHandler* handler) {
  auto impl = std::make_unique<Impl>(loop, std::move(options), handler);
  absl::Status status = impl->Listen();
  if (!status.ok()) return status;
  return std::unique_ptr<SmtpListener>(new SmtpListener(std::move(impl)));
}

SmtpListener::SmtpListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SmtpListener::~SmtpListener() = default;

uint16_t SmtpListener::port() const { return impl_->port(); }

int SmtpListener::open_connections() const { return impl_->open_connections(); }

void SmtpListener::Close(absl::Duration grace, absl::AnyInvocable<void()> done) {
  impl_->Close(grace, std::move(done));
}

}  // namespace volley::inject
