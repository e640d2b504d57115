#include "engine/inject/smtp_listener.h"

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
    if (options_.implicit_tls && options_.session.tls == nullptr) {
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
    std::unique_ptr<Timer> idle_timer;
    uint64_t last_activity = 0;  // uv_now() of the last input the session could take
    bool tls_pending = false;    // implicit TLS: the greeting waits for the handshake
    bool ended = false;
    std::list<Connection*>::iterator position;
  };

  void Accept(std::unique_ptr<net::TcpStream> tcp) {
    if (closing_) return;  // dropped: the listener is going
    std::unique_ptr<net::Stream> stream = std::move(tcp);
    if (options_.wrap_stream) stream = options_.wrap_stream(loop_, std::move(stream));
    if (open_connections() >= options_.max_connections) {
      // (A client expecting TLS could not read the 421: it just sees the connection close.)
      if (!options_.implicit_tls) {
        stream->Write(
            smtp::MakeLocalReply(smtp::LocalReply::kTooManyConnections, options_.session.hostname)
                .ToWire());
      }
      // Counted while it is told, as the sessions are: the client sees it accepted.
      Count(+1);
      Count(-1);
      stream->Shutdown(options_.linger);  // lingers on its own once released
      return;
    }
    auto* c = new Connection;
    c->position = connections_.insert(connections_.end(), c);
    c->stream = std::move(stream);
    Count(+1);
    StartSession(c);
  }

  void StartSession(Connection* c) {
    smtp::ServerSession::Transport transport;
    transport.write = [this, c](std::string bytes) { Write(c, std::move(bytes)); };
    transport.close = [this, c] { End(c, /*graceful=*/true); };
    if (options_.session.tls != nullptr && !options_.implicit_tls) {
      transport.start_tls = [this, c] { StartTls(c); };
    }
    const std::string peer = c->stream->peer_address();
    const std::string local = c->stream->local_address();
    c->session = std::make_unique<smtp::ServerSession>(options_.session, handler_,
                                                       std::move(transport), peer, local);
    c->session->set_resume_reading([this, c] { Resume(c); });
    c->last_activity = uv_now(loop_);
    SetStreamCallbacks(c);
    if (absl::Status reading = c->stream->StartReading(); !reading.ok()) {
      LOG_EVERY_N_SEC(WARNING, 5) << "SMTP listener: " << reading;
      End(c, /*graceful=*/false);
      return;
    }
    if (options_.idle_timeout > absl::ZeroDuration()) {
      c->idle_timer = std::make_unique<Timer>(loop_, [this, c] { OnIdleTimer(c); });
      c->idle_timer->Start(options_.idle_timeout);
    }
    if (options_.implicit_tls) {
      c->tls_pending = true;
      StartTls(c);  // the greeting waits for the handshake
      return;
    }
    c->session->Start();
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
    c->last_activity = uv_now(loop_);
    // If these bytes hold a STARTTLS, the session switches the connection to TLS while it takes
    // them (StartTls) and drops whatever follows the command.
    c->session->Feed(bytes);
    if (!c->session->closed() && !c->session->wants_input()) c->stream->StopReading();
  }

  void Write(Connection* c, std::string bytes) { c->stream->Write(std::move(bytes)); }

  void Resume(Connection* c) {
    c->last_activity = uv_now(loop_);
    if (absl::Status reading = c->stream->StartReading(); !reading.ok()) {
      c->session->OnDisconnect();
      End(c, /*graceful=*/false);
    }
  }

  // From now on the connection speaks TLS. Called by the session right after its 220 to
  // STARTTLS was written (so that reply goes out in the clear, before any TLS record), or at
  // accept time with implicit TLS.
  void StartTls(Connection* c) {
    absl::StatusOr<std::unique_ptr<net::TlsStream>> tls =
        net::TlsStream::Server(std::move(c->stream), options_.session.tls);
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

  void OnIdleTimer(Connection* c) {
    const uint64_t now = uv_now(loop_);
    // While the handler holds a message the wait is ours, not the client's.
    if (!c->session->wants_input()) c->last_activity = now;
    const uint64_t idle_ms = ToLoopMillis(options_.idle_timeout);
    const uint64_t idle = now - c->last_activity;
    if (idle < idle_ms) {
      c->idle_timer->Start(absl::Milliseconds(static_cast<int64_t>(idle_ms - idle)));
      return;
    }
    c->session->OnDisconnect();
    c->stream->Write(
        smtp::MakeLocalReply(smtp::LocalReply::kIdleTimeout, options_.session.hostname).ToWire());
    End(c, /*graceful=*/true);
  }

  // The session is over: the stream says goodbye politely (what is written goes out, then FIN
  // and the linger) or is closed at once.
  void End(Connection* c, bool graceful) {
    if (c->ended) return;
    c->ended = true;
    Count(-1);
    c->idle_timer.reset();
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
