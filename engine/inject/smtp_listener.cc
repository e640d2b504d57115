#include "engine/smtp/smtp_listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/net_address.h"
#include "engine/smtp/local_replies.h"
#include "tls/tls_context.h"
#include "tls/tls_session.h"

namespace volley::smtp {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
// After our last reply we send FIN and keep reading (and discarding) for a while before closing:
// closing a socket with unread input makes the kernel send RST, which can destroy the reply
// (a 421 or 221) before the client has read it.
constexpr uint64_t kLingerMs = 2000;

// What the break_starttls fault sends instead of a ServerHello: not a TLS record (no record
// type starts with 'T'), so the client's handshake fails at once.
constexpr absl::string_view kNotTls = "This is not TLS, as the test asked.\r\n";

uint64_t ToMillis(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  if (d == absl::InfiniteDuration()) return UINT64_MAX;
  return static_cast<uint64_t>(absl::ToInt64Milliseconds(d));
}

}  // namespace

class SmtpListener::Impl {
 public:
  Impl(uv_loop_t* loop, const ListenerOptions& options, ServerSessionHandler* handler)
      : loop_(loop),
        options_(options),
        handler_(handler),
        idle_ms_(ToMillis(options.idle_timeout)),
        delay_ms_(ToMillis(options.reply_delay)),
        read_buffer_(new char[kReadBufferSize]) {}

  ~Impl() = default;

  absl::Status Listen() {
    if (options_.implicit_tls && options_.session.tls == nullptr) {
      return absl::InvalidArgumentError("SMTP listener: implicit_tls needs session.tls");
    }
    if (options_.session.tls != nullptr &&
        options_.session.tls->role() != tls::TlsContextOptions::Role::kServer) {
      return absl::InvalidArgumentError("SMTP listener: session.tls is not a server context");
    }
    absl::StatusOr<int> fd =
        BindListeningSocket(options_.address, options_.port, options_.reuse_port);
    if (!fd.ok()) return fd.status();
    uv_tcp_init(loop_, &server_);
    server_.data = this;
    uv_timer_init(loop_, &grace_timer_);
    grace_timer_.data = this;
    handles_open_ = 2;
    int rc = uv_tcp_open(&server_, *fd);
    if (rc != 0) {
      // Not attached to the handle, so uv_close would not close it.
      ::close(*fd);
      CloseHandles();
      return absl::UnavailableError(absl::StrCat("uv_tcp_open: ", uv_strerror(rc)));
    }
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 1024, &OnConnection);
    if (rc != 0) {
      CloseHandles();
      return absl::UnavailableError(absl::StrCat("uv_listen: ", uv_strerror(rc)));
    }
    sockaddr_storage bound;
    int length = sizeof(bound);
    uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = PortOf(reinterpret_cast<sockaddr*>(&bound));
    return absl::OkStatus();
  }

  // Closes the listening socket and the grace timer (on a failed Listen, or at the end of
  // Close).
  void CloseHandles() {
    auto on_closed = [](uv_handle_t* handle) {
      auto* self = static_cast<Impl*>(handle->data);
      --self->handles_open_;
      self->MaybeFinishClose();
    };
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&server_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&server_), on_closed);
    }
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&grace_timer_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&grace_timer_), on_closed);
    }
  }

  uint16_t port() const { return port_; }
  int open_connections() const { return static_cast<int>(connections_.size()); }
  bool fully_closed() const { return handles_open_ == 0 && connections_.empty(); }

  void Close(absl::Duration grace, absl::AnyInvocable<void()> done) {
    if (closing_) {
      LOG(WARNING) << "SmtpListener::Close called twice";
      return;
    }
    closing_ = true;
    close_done_ = std::move(done);
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&server_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&server_), [](uv_handle_t* handle) {
        auto* self = static_cast<Impl*>(handle->data);
        --self->handles_open_;
        self->MaybeFinishClose();
      });
    }
    // Shutdown may close a session at once (through its transport), which erases it from the
    // list only in the uv_close callback, so iterating here is safe.
    for (Connection* c : connections_) {
      if (c->session != nullptr && c->phase == Phase::kOpen) c->session->Shutdown();
    }
    uv_timer_start(&grace_timer_, &OnGraceExpired, ToMillis(grace), 0);
    MaybeFinishClose();
  }

 private:
  enum class Phase {
    kOpen,       // the session runs
    kLingering,  // our last reply is written or queued; FIN sent, discarding input
    kClosed,     // uv_close called
  };

  struct Connection {
    Impl* owner = nullptr;
    uv_tcp_t tcp;
    uv_timer_t timer;        // idle timeout, then the linger timeout
    uv_timer_t delay_timer;  // sends `delayed` (with ListenerOptions::reply_delay only)
    uv_shutdown_t shutdown_req;
    std::deque<std::pair<uint64_t, std::string>> delayed;  // (due uv_now(), bytes)
    bool shutdown_after_delayed = false;
    int handles_open = 0;
    Phase phase = Phase::kOpen;
    bool reading = false;
    bool counted = false;        // reported to on_connections_changed and not yet taken back
    uint64_t last_activity = 0;  // uv_now() of the last input the session could take
    std::unique_ptr<ServerSession> session;
    // Set from the STARTTLS switch (or the accept, with implicit TLS) on: every byte in and out
    // goes through it.
    std::unique_ptr<tls::TlsSession> tls;
    std::list<Connection*>::iterator position;
  };

  struct WriteRequest {
    uv_write_t req;
    std::string data;  // kept alive until the write callback
    Connection* connection;
  };

  static uv_stream_t* Stream(Connection* c) { return reinterpret_cast<uv_stream_t*>(&c->tcp); }

  static void OnConnection(uv_stream_t* server, int status) {
    auto* self = static_cast<Impl*>(server->data);
    if (status < 0) {
      LOG(WARNING) << "SMTP listener " << self->options_.address << ":" << self->port_
                   << ": accept: " << uv_strerror(status);
      return;
    }
    auto* c = new Connection;
    c->owner = self;
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    uv_timer_init(self->loop_, &c->timer);
    c->timer.data = c;
    uv_timer_init(self->loop_, &c->delay_timer);
    c->delay_timer.data = c;
    c->handles_open = 3;
    c->position = self->connections_.insert(self->connections_.end(), c);
    if (self->options_.on_connections_changed) {
      c->counted = true;
      self->options_.on_connections_changed(1);
    }
    if (uv_accept(server, Stream(c)) != 0 || self->closing_) {
      self->HardClose(c);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (static_cast<int>(self->connections_.size()) > self->options_.max_connections) {
      // (A client expecting TLS could not read the 421: it just sees the connection close.)
      if (!self->options_.implicit_tls) {
        self->Write(c,
                    MakeLocalReply(LocalReply::kTooManyConnections, self->options_.session.hostname)
                        .ToWire());
      }
      self->BeginLinger(c);
      return;
    }
    sockaddr_storage address;
    int length = sizeof(address);
    std::string peer, local;
    if (uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      peer = IpOf(reinterpret_cast<sockaddr*>(&address));
    }
    length = sizeof(address);
    if (uv_tcp_getsockname(&c->tcp, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      local = IpOf(reinterpret_cast<sockaddr*>(&address));
    }
    ServerSession::Transport transport;
    transport.write = [c](std::string bytes) { c->owner->Write(c, std::move(bytes)); };
    transport.close = [c]() { c->owner->BeginLinger(c); };
    if (self->options_.break_starttls) {
      transport.start_tls = [c]() { c->owner->BreakStartTls(c); };
    } else if (self->options_.session.tls != nullptr && !self->options_.implicit_tls) {
      transport.start_tls = [c]() { c->owner->StartTls(c); };
    }
    c->session =
        std::make_unique<ServerSession>(self->options_.session, self->handler_,
                                        std::move(transport), std::move(peer), std::move(local));
    c->session->set_resume_reading([c]() { c->owner->Resume(c); });
    c->last_activity = uv_now(self->loop_);
    self->StartReading(c);
    if (self->idle_ms_ != UINT64_MAX && self->idle_ms_ > 0) {
      uv_timer_start(&c->timer, &OnIdleTimer, self->idle_ms_, 0);
    }
    if (self->options_.implicit_tls) {
      // The greeting waits for the handshake (OnTlsInput).
      self->StartTls(c);
      return;
    }
    c->session->Start();
  }

  // From now on the connection speaks TLS. Called by the session right after its 220 to
  // STARTTLS was written (so that reply goes out in the clear, before any TLS record), or at
  // accept time with implicit TLS.
  void StartTls(Connection* c) {
    if (c->phase != Phase::kOpen) return;
    absl::StatusOr<std::unique_ptr<tls::TlsSession>> tls =
        tls::TlsSession::CreateServer(options_.session.tls);
    absl::Status status = tls.ok() ? (*tls)->StartHandshake() : tls.status();
    if (!status.ok()) {
      LOG(ERROR) << "SMTP listener " << options_.address << ":" << port_
                 << ": cannot start TLS: " << status;
      c->session->OnDisconnect();
      BeginLinger(c);
      return;
    }
    c->tls = std::move(*tls);
    SendTlsOutput(c);
  }

  // The break_starttls fault: garbage instead of a handshake, then close.
  void BreakStartTls(Connection* c) {
    if (c->phase != Phase::kOpen) return;
    RawWrite(c, std::string(kNotTls));
    c->session->OnDisconnect();
    BeginLinger(c);
  }

  // Encrypted bytes from the client.
  void OnTlsInput(Connection* c, absl::string_view bytes) {
    const bool was_established = c->tls->established();
    std::string plaintext;
    const absl::Status status = c->tls->OnEncryptedInput(bytes, &plaintext);
    SendTlsOutput(c);  // handshake messages, or the alert telling why it failed
    if (!status.ok()) {
      // A failed handshake or a broken record: the connection cannot go on.
      c->session->OnDisconnect();
      BeginLinger(c);
      return;
    }
    if (!was_established && c->tls->established()) {
      c->session->OnTlsEstablished(c->tls->protocol_version(), c->tls->cipher());
      if (options_.implicit_tls) c->session->Start();
      if (c->phase != Phase::kOpen) return;
    }
    // With TLS 1.3 the client's first command may come with its Finished message.
    if (!plaintext.empty()) c->session->Feed(plaintext);
    if (c->phase == Phase::kOpen && c->tls->state() == tls::TlsSession::State::kClosed) {
      // close_notify from the client: it is gone.
      c->session->OnDisconnect();
      BeginLinger(c);
    }
  }

  void SendTlsOutput(Connection* c) {
    if (c->tls != nullptr && c->tls->HasEncryptedOutput()) {
      RawWrite(c, c->tls->TakeEncryptedOutput());
    }
  }

  void StartReading(Connection* c) {
    if (c->reading || c->phase == Phase::kClosed) return;
    const int rc = uv_read_start(Stream(c), &OnAlloc, &OnRead);
    if (rc != 0) {
      HardClose(c);
      return;
    }
    c->reading = true;
  }

  void StopReading(Connection* c) {
    if (!c->reading) return;
    uv_read_stop(Stream(c));
    c->reading = false;
  }

  void Resume(Connection* c) {
    if (c->phase != Phase::kOpen) return;
    c->last_activity = uv_now(loop_);
    StartReading(c);
  }

  // One buffer per listener is enough: libuv calls the read callback right after the alloc
  // callback, and the session copies whatever it keeps.
  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    Impl* self = static_cast<Connection*>(handle->data)->owner;
    buf->base = self->read_buffer_.get();
    buf->len = kReadBufferSize;
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    Impl* self = c->owner;
    if (nread == 0) return;  // EAGAIN
    if (nread < 0) {
      if (c->phase == Phase::kOpen && c->session != nullptr) c->session->OnDisconnect();
      self->HardClose(c);
      return;
    }
    if (c->phase != Phase::kOpen) return;  // lingering: discard
    c->last_activity = uv_now(self->loop_);
    const absl::string_view bytes(buf->base, static_cast<size_t>(nread));
    if (c->tls != nullptr) {
      self->OnTlsInput(c, bytes);
    } else {
      // If these bytes hold a STARTTLS, the session switches the connection to TLS while it
      // takes them (StartTls) and drops whatever follows the command.
      c->session->Feed(bytes);
    }
    if (c->phase == Phase::kOpen && !c->session->wants_input()) self->StopReading(c);
  }

  // Plaintext for the client: the session's replies, encrypted once TLS is on.
  void Write(Connection* c, std::string bytes) {
    if (c->phase == Phase::kClosed || bytes.empty()) return;
    if (c->tls != nullptr) {
      // Held by the TLS session until the handshake is done.
      if (!c->tls->WritePlaintext(bytes).ok()) {
        HardClose(c);
        return;
      }
      SendTlsOutput(c);
      return;
    }
    RawWrite(c, std::move(bytes));
  }

  // Bytes for the socket, in order, after reply_delay.
  void RawWrite(Connection* c, std::string bytes) {
    if (c->phase == Phase::kClosed || bytes.empty()) return;
    if (delay_ms_ > 0) {
      // uv_now() is cached per loop turn and counts whole milliseconds: refresh it and add one
      // so that the delay is never shorter than asked.
      uv_update_time(loop_);
      const bool was_empty = c->delayed.empty();
      c->delayed.emplace_back(uv_now(loop_) + delay_ms_ + 1, std::move(bytes));
      if (was_empty) uv_timer_start(&c->delay_timer, &OnDelayTimer, delay_ms_ + 1, 0);
      return;
    }
    WriteNow(c, std::move(bytes));
  }

  static void OnDelayTimer(uv_timer_t* timer) {
    auto* c = static_cast<Connection*>(timer->data);
    Impl* self = c->owner;
    const uint64_t now = uv_now(self->loop_);
    while (!c->delayed.empty() && c->delayed.front().first <= now && c->phase != Phase::kClosed) {
      std::string bytes = std::move(c->delayed.front().second);
      c->delayed.pop_front();
      self->WriteNow(c, std::move(bytes));
    }
    if (c->phase == Phase::kClosed) return;
    if (!c->delayed.empty()) {
      uv_timer_start(&c->delay_timer, &OnDelayTimer, c->delayed.front().first - now, 0);
    } else if (c->shutdown_after_delayed) {
      self->StartShutdown(c);
    }
  }

  // The session already joins the replies to one Feed into one write, so each write here is
  // handed to libuv at once (which tries to send it synchronously).
  void WriteNow(Connection* c, std::string bytes) {
    auto* w = new WriteRequest;
    w->data = std::move(bytes);
    w->connection = c;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    const int rc = uv_write(&w->req, Stream(c), &buf, 1, &OnWritten);
    if (rc != 0) {
      delete w;
      HardClose(c);
    }
  }

  static void OnWritten(uv_write_t* req, int status) {
    auto* w = static_cast<WriteRequest*>(req->data);
    Connection* c = w->connection;
    delete w;
    // UV_ECANCELED comes from uv_close, which already runs.
    if (status < 0 && status != UV_ECANCELED) c->owner->HardClose(c);
  }

  // The session is done (or never started): send FIN once the queued writes are out, then
  // discard input until the peer closes or the linger time is up.
  // The session is over once the connection starts to linger: a client that got its 221 may
  // open the next connection before this one is closed, and must not be counted twice.
  void Uncount(Connection* c) {
    if (!c->counted) return;
    c->counted = false;
    options_.on_connections_changed(-1);
  }

  void BeginLinger(Connection* c) {
    if (c->phase != Phase::kOpen) return;
    if (c->tls != nullptr && c->tls->established()) {
      c->tls->Shutdown();  // close_notify, so the client knows nothing was cut off
      SendTlsOutput(c);
    }
    c->phase = Phase::kLingering;
    Uncount(c);
    if (!c->delayed.empty()) {
      c->shutdown_after_delayed = true;  // OnDelayTimer goes on once the last write is out
      StartReading(c);
      return;
    }
    StartShutdown(c);
  }

  void StartShutdown(Connection* c) {
    c->shutdown_req.data = c;
    const int rc = uv_shutdown(&c->shutdown_req, Stream(c), [](uv_shutdown_t* req, int status) {
      auto* c = static_cast<Connection*>(req->data);
      if (status < 0) c->owner->HardClose(c);
    });
    if (rc != 0) {
      HardClose(c);
      return;
    }
    StartReading(c);
    uv_timer_start(&c->timer, &OnLingerExpired, kLingerMs, 0);
  }

  static void OnLingerExpired(uv_timer_t* timer) {
    auto* c = static_cast<Connection*>(timer->data);
    c->owner->HardClose(c);
  }

  static void OnIdleTimer(uv_timer_t* timer) {
    auto* c = static_cast<Connection*>(timer->data);
    Impl* self = c->owner;
    if (c->phase != Phase::kOpen) return;
    const uint64_t now = uv_now(self->loop_);
    if (!c->session->wants_input()) {
      // The handler holds a message: the wait is ours, not the client's.
      c->last_activity = now;
    }
    const uint64_t idle = now - c->last_activity;
    if (idle < self->idle_ms_) {
      uv_timer_start(&c->timer, &OnIdleTimer, self->idle_ms_ - idle, 0);
      return;
    }
    c->session->OnDisconnect();
    self->Write(c,
                MakeLocalReply(LocalReply::kIdleTimeout, self->options_.session.hostname).ToWire());
    self->BeginLinger(c);
  }

  static void OnGraceExpired(uv_timer_t* timer) {
    auto* self = static_cast<Impl*>(timer->data);
    std::vector<Connection*> open(self->connections_.begin(), self->connections_.end());
    for (Connection* c : open) self->HardClose(c);
  }

  void HardClose(Connection* c) {
    if (c->phase == Phase::kClosed) return;
    c->phase = Phase::kClosed;
    c->reading = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &OnConnectionHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), &OnConnectionHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->delay_timer), &OnConnectionHandleClosed);
  }

  static void OnConnectionHandleClosed(uv_handle_t* handle) {
    auto* c = static_cast<Connection*>(handle->data);
    if (--c->handles_open > 0) return;
    Impl* self = c->owner;
    self->Uncount(c);
    self->connections_.erase(c->position);
    delete c;  // destroys the session; a late `done` from the handler finds it gone
    self->MaybeFinishClose();
  }

  void MaybeFinishClose() {
    if (!closing_ || !connections_.empty()) return;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&grace_timer_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&grace_timer_), [](uv_handle_t* handle) {
        auto* self = static_cast<Impl*>(handle->data);
        --self->handles_open_;
        self->MaybeFinishClose();
      });
      return;
    }
    if (handles_open_ > 0 || !close_done_) return;
    // `done` may destroy the listener (and this Impl): nothing may touch `this` after it.
    absl::AnyInvocable<void()> done = std::move(close_done_);
    close_done_ = nullptr;
    done();
  }

  uv_loop_t* const loop_;
  const ListenerOptions options_;
  ServerSessionHandler* const handler_;
  const uint64_t idle_ms_;
  const uint64_t delay_ms_;
  std::unique_ptr<char[]> read_buffer_;
  uv_tcp_t server_;
  uv_timer_t grace_timer_;
  int handles_open_ = 0;  // server_ and grace_timer_ until closed
  uint16_t port_ = 0;
  bool closing_ = false;
  std::list<Connection*> connections_;
  absl::AnyInvocable<void()> close_done_;

  friend class SmtpListener;
};

absl::StatusOr<std::unique_ptr<SmtpListener>> SmtpListener::Create(uv_loop_t* loop,
                                                                   const ListenerOptions& options,
                                                                   ServerSessionHandler* handler) {
  auto impl = std::make_unique<Impl>(loop, options, handler);
  absl::Status status = impl->Listen();
  if (!status.ok()) {
    if (impl->handles_open_ > 0) {
      // The handles close on the next loop turn and point at the Impl: let it go then.
      Impl* orphan = impl.release();
      orphan->closing_ = true;
      orphan->close_done_ = [orphan]() { delete orphan; };
    }
    return status;
  }
  return std::unique_ptr<SmtpListener>(new SmtpListener(std::move(impl)));
}

SmtpListener::SmtpListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SmtpListener::~SmtpListener() {
  if (impl_->fully_closed()) return;
  // Libuv still holds pointers into the Impl. Freeing it would make the loop touch freed
  // memory, so it is closed and left to free itself.
  LOG(ERROR) << "SmtpListener destroyed before Close() finished";
  Impl* orphan = impl_.release();
  if (!orphan->closing_) orphan->Close(absl::ZeroDuration(), nullptr);
  orphan->close_done_ = [orphan]() { delete orphan; };
}

uint16_t SmtpListener::port() const { return impl_->port(); }

int SmtpListener::open_connections() const { return impl_->open_connections(); }

void SmtpListener::Close(absl::Duration grace, absl::AnyInvocable<void()> done) {
  impl_->Close(grace, std::move(done));
}

}  // namespace volley::smtp
