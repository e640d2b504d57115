#include "engine/delivery/smtp_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/net_address.h"

namespace volley::delivery {
namespace {

constexpr size_t kReadBufferSize = 32 * 1024;
constexpr absl::Duration kQuitTimeout = absl::Seconds(10);

uint64_t Millis(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  return ms <= 0 ? 1 : static_cast<uint64_t>(ms);
}

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

bool IsAnyAddress(absl::string_view address) {
  return address.empty() || address == "0.0.0.0" || address == "::";
}

}  // namespace

struct SmtpConnection::Socket {
  uv_tcp_t tcp;
  uv_connect_t connect;
  SmtpConnection* connection;
  bool closing = false;
  char buffer[kReadBufferSize];
};

SmtpConnection* SmtpConnection::Start(uv_loop_t* loop, ConnectionOwner* owner,
                                      std::vector<ConnectTarget> targets,
                                      const ConnectionOptions& options) {
  CHECK(!targets.empty());
  auto* connection = new SmtpConnection(loop, owner, std::move(targets), options);
  connection->ConnectNext();
  return connection;
}

SmtpConnection::SmtpConnection(uv_loop_t* loop, ConnectionOwner* owner,
                               std::vector<ConnectTarget> targets, const ConnectionOptions& options)
    : loop_(loop), owner_(owner), targets_(std::move(targets)), options_(options) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

SmtpConnection::~SmtpConnection() = default;

std::string SmtpConnection::Where() const {
  const ConnectTarget& t = target();
  return absl::StrCat(t.host_name, "[", t.address, "]:", t.port);
}

void SmtpConnection::ConnectNext() {
  while (target_index_ < targets_.size() &&
         target_index_ < static_cast<size_t>(options_.max_targets)) {
    const ConnectTarget& target = targets_[target_index_];
    absl::StatusOr<sockaddr_storage> address = MakeSocketAddress(target.address, target.port);
    if (!address.ok()) {
      close_info_.error = std::string(address.status().message());
      ++target_index_;
      continue;
    }
    ++targets_tried_;
    socket_ = new Socket;
    socket_->connection = this;
    uv_tcp_init(loop_, &socket_->tcp);
    socket_->tcp.data = socket_;
    socket_->connect.data = socket_;
    uv_tcp_nodelay(&socket_->tcp, 1);
    if (!IsAnyAddress(options_.source_address)) {
      // Egress: leave from the source address, when it can reach this host's family.
      absl::StatusOr<sockaddr_storage> source = MakeSocketAddress(options_.source_address, 0);
      if (source.ok() && source->ss_family == address->ss_family) {
        const int rc = uv_tcp_bind(&socket_->tcp, reinterpret_cast<const sockaddr*>(&*source), 0);
        if (rc != 0) {
          // A local problem, not the host's: no point trying the other hosts.
          CloseSocket(false,
                      absl::StrCat("cannot bind egress source ", options_.source_address, ": ",
                                   uv_strerror(rc)),
                      std::nullopt, {});
          return;
        }
      }
    }
    const int rc = uv_tcp_connect(&socket_->connect, &socket_->tcp,
                                  reinterpret_cast<const sockaddr*>(&*address),
                                  [](uv_connect_t* req, int status) {
                                    auto* socket = static_cast<Socket*>(req->data);
                                    if (socket->closing) return;
                                    socket->connection->OnConnected(status);
                                  });
    if (rc != 0) {
      owner_->OnTargetFailed(target);
      CloseSocket(true, absl::StrCat("connect to ", Where(), ": ", uv_strerror(rc)), std::nullopt,
                  {});
      return;
    }
    ArmTimer();
    return;
  }
  Finish();
}

void SmtpConnection::OnConnected(int status) {
  if (status < 0) {
    owner_->OnTargetFailed(target());
    CloseSocket(true, absl::StrCat("connect to ", Where(), ": ", uv_strerror(status)), std::nullopt,
                {});
    return;
  }
  smtp::ProtocolOptions protocol_options = options_.protocol;
  const config::TlsPolicy policy = options_.tls;
  if (policy == config::TlsPolicy::kOpportunistic && owner_->SkipTlsWith(target())) {
    plaintext_only_ = true;
  }
  protocol_options.tls_active = policy == config::TlsPolicy::kImplicit;
  protocol_options.starttls = !plaintext_only_ && (policy == config::TlsPolicy::kOpportunistic ||
                                                   policy == config::TlsPolicy::kRequired ||
                                                   policy == config::TlsPolicy::kRequiredVerify);
  protocol_options.tls_required =
      policy == config::TlsPolicy::kRequired || policy == config::TlsPolicy::kRequiredVerify;

  smtp::ClientSession::Callbacks callbacks;
  callbacks.write = [this](std::string bytes) { Write(std::move(bytes)); };
  callbacks.on_starttls = [this] { StartTls(); };
  callbacks.on_ready = [this] {
    ready_ = true;
    close_info_.was_ready = true;
    close_info_.error.clear();
    close_info_.reply.reset();
    if (quit_requested_) {
      protocol_->Quit();
    } else {
      owner_->OnConnectionReady(this);
    }
  };
  callbacks.on_transaction_done = [this](std::vector<smtp::RecipientOutcome> outcomes) {
    owner_->OnTransactionDone(this, std::move(outcomes));
    if (closing_ || socket_ == nullptr || socket_->closing) return;
    if (protocol_->phase() != smtp::ClientSession::Phase::kIdle) return;  // owner started another
    if (quit_requested_) {
      protocol_->Quit();
    } else {
      owner_->OnConnectionReady(this);
    }
  };
  callbacks.on_failed = [this](const smtp::SessionError& error,
                               std::vector<smtp::RecipientOutcome> in_flight) {
    std::string text = absl::StrCat(Where(), ": ", error.detail);
    if (error.reply) absl::StrAppend(&text, ": ", error.reply->code, " ", error.reply->Text());
    if (!ready_) {
      // Before a session exists, a refused greeting, EHLO, TLS or AUTH means: next host.
      if (error.kind == smtp::SessionError::Kind::kGreeting && error.reply &&
          error.reply->IsPermanent()) {
        ++permanent_greetings_;
      }
      owner_->OnTargetFailed(target());
    }
    CloseSocket(!ready_, std::move(text), error.reply, std::move(in_flight));
  };
  callbacks.on_quit = [this] { CloseSocket(false, "", std::nullopt, {}); };
  protocol_ =
      std::make_unique<smtp::ClientSession>(std::move(protocol_options), std::move(callbacks));

  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&socket_->tcp),
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* socket = static_cast<Socket*>(handle->data);
        buf->base = socket->buffer;
        buf->len = sizeof(socket->buffer);
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* socket = static_cast<Socket*>(stream->data);
        if (socket->closing) return;
        socket->connection->OnRead(nread, buf);
      });
  // Implicit TLS (RFC 8314): the handshake comes before the banner.
  if (policy == config::TlsPolicy::kImplicit) StartTls();
  ArmTimer();
}

void SmtpConnection::StartTls() {
  if (!options_.tls_context) {
    OnTlsFailed("no TLS client context");
    return;
  }
  tls::ClientSessionOptions session_options;
  session_options.server_name = target().host_name;
  session_options.verify_peer = options_.tls == config::TlsPolicy::kRequiredVerify;
  session_options.resume = owner_->TlsSessionFor(target());
  absl::StatusOr<std::unique_ptr<tls::TlsSession>> session =
      tls::TlsSession::CreateClient(options_.tls_context, session_options);
  if (!session.ok()) {
    OnTlsFailed(std::string(session.status().message()));
    return;
  }
  tls_ = *std::move(session);
  tls_handshaking_ = true;
  absl::Status started = tls_->StartHandshake();
  if (tls_->HasEncryptedOutput()) WriteRaw(tls_->TakeEncryptedOutput());
  if (!started.ok()) OnTlsFailed(std::string(started.message()));
}

void SmtpConnection::OnTlsFailed(const std::string& why) {
  owner_->OnTlsHandshake(false);
  const std::string error = absl::StrCat(Where(), ": TLS handshake failed: ", why);
  if (options_.tls == config::TlsPolicy::kOpportunistic && !plaintext_only_) {
    // RFC 7435: a failed opportunistic handshake is not worth losing the delivery over; try
    // the same host once more without STARTTLS.
    owner_->OnOpportunisticTlsFailed(target());
    retry_plaintext_ = true;
    CloseSocket(true, error, std::nullopt, {});
    return;
  }
  owner_->OnTargetFailed(target());
  std::vector<smtp::RecipientOutcome> in_flight;
  if (protocol_) in_flight = protocol_->Abort(error);
  CloseSocket(!ready_, error, std::nullopt, std::move(in_flight));
}

void SmtpConnection::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;
  if (nread < 0) {
    const smtp::ClientSession::Phase phase = protocol_->phase();
    if (phase == smtp::ClientSession::Phase::kQuit || phase == smtp::ClientSession::Phase::kDone) {
      CloseSocket(false, "", std::nullopt, {});
      return;
    }
    if (tls_handshaking_) {
      OnTlsFailed(nread == UV_EOF ? "connection closed during the handshake"
                                  : uv_strerror(static_cast<int>(nread)));
      return;
    }
    std::string error = absl::StrCat(
        Where(), ": connection ",
        nread == UV_EOF ? "closed by the server" : uv_strerror(static_cast<int>(nread)));
    if (!ready_) owner_->OnTargetFailed(target());
    std::vector<smtp::RecipientOutcome> in_flight = protocol_->Abort(error);
    CloseSocket(!ready_, std::move(error), std::nullopt, std::move(in_flight));
    return;
  }
  const absl::string_view bytes(buf->base, static_cast<size_t>(nread));
  if (!tls_) {
    OnPlaintext(bytes);
    return;
  }
  std::string plaintext;
  absl::Status status = tls_->OnEncryptedInput(bytes, &plaintext);
  if (tls_->HasEncryptedOutput()) WriteRaw(tls_->TakeEncryptedOutput());
  if (!status.ok()) {
    if (tls_handshaking_) {
      OnTlsFailed(std::string(status.message()));
    } else {
      std::string error = absl::StrCat(Where(), ": TLS error: ", status.message());
      std::vector<smtp::RecipientOutcome> in_flight = protocol_->Abort(error);
      CloseSocket(false, std::move(error), std::nullopt, std::move(in_flight));
    }
    return;
  }
  if (tls_handshaking_ && tls_->established()) {
    tls_handshaking_ = false;
    tls_version_ = tls_->protocol_version();
    tls_cipher_ = tls_->cipher();
    owner_->OnTlsHandshake(true);
    // After STARTTLS the session starts over; with implicit TLS the banner is still to come.
    if (protocol_->phase() == smtp::ClientSession::Phase::kTlsHandshake)
      protocol_->OnTlsEstablished();
  }
  // TLS 1.3 tickets arrive after the handshake, with the first records the server sends.
  if (!tls_session_stored_ && tls_->established()) {
    if (bssl::UniquePtr<SSL_SESSION> session = tls_->GetSessionForResumption()) {
      owner_->OnTlsSession(target(), std::move(session));
      tls_session_stored_ = true;
    }
  }
  if (!plaintext.empty() && socket_ != nullptr && !socket_->closing) OnPlaintext(plaintext);
}

void SmtpConnection::OnPlaintext(absl::string_view bytes) {
  protocol_->OnData(bytes);
  if (socket_ != nullptr && !socket_->closing) ArmTimer();
}

void SmtpConnection::Write(std::string bytes) {
  if (socket_ == nullptr || socket_->closing) return;
  if (!tls_) {
    WriteRaw(std::move(bytes));
    return;
  }
  if (!tls_->WritePlaintext(bytes).ok()) return;  // the read side reports the failure
  WriteRaw(tls_->TakeEncryptedOutput());
}

void SmtpConnection::WriteRaw(std::string bytes) {
  if (socket_ == nullptr || socket_->closing || bytes.empty()) return;
  auto* request = new WriteRequest;
  request->data = std::move(bytes);
  request->req.data = request;
  uv_buf_t buf = uv_buf_init(request->data.data(), static_cast<unsigned>(request->data.size()));
  const int rc =
      uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&socket_->tcp), &buf, 1,
               [](uv_write_t* req, int) { delete static_cast<WriteRequest*>(req->data); });
  // A failed write shows up as a read error next; nothing more to do here.
  if (rc != 0) delete request;
}

void SmtpConnection::ArmTimer() {
  if (closing_) return;
  absl::Duration timeout;
  if (!protocol_) {
    timeout = options_.timeouts.connect;
  } else if (tls_handshaking_) {
    timeout = options_.timeouts.ehlo;
  } else {
    switch (protocol_->phase()) {
      case smtp::ClientSession::Phase::kBanner:
        timeout = options_.timeouts.banner;
        break;
      case smtp::ClientSession::Phase::kEhlo:
      case smtp::ClientSession::Phase::kHelo:
      case smtp::ClientSession::Phase::kStartTls:
      case smtp::ClientSession::Phase::kTlsHandshake:
      case smtp::ClientSession::Phase::kAuth:
        timeout = options_.timeouts.ehlo;
        break;
      case smtp::ClientSession::Phase::kIdle:
        timeout = options_.timeouts.idle;
        break;
      case smtp::ClientSession::Phase::kMail:
        timeout = options_.timeouts.mail_from;
        break;
      case smtp::ClientSession::Phase::kRcpt:
        timeout = options_.timeouts.rcpt_to;
        break;
      case smtp::ClientSession::Phase::kData:
        timeout = options_.timeouts.data;
        break;
      case smtp::ClientSession::Phase::kDataDot:
        timeout = options_.timeouts.data_dot;
        break;
      case smtp::ClientSession::Phase::kQuit:
      case smtp::ClientSession::Phase::kDone:
        timeout = kQuitTimeout;
        break;
    }
  }
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<SmtpConnection*>(t->data)->OnTimeout(); },
      Millis(timeout), 0);
}

void SmtpConnection::OnTimeout() {
  if (socket_ == nullptr || socket_->closing) return;
  if (!protocol_) {
    owner_->OnTargetFailed(target());
    CloseSocket(true, absl::StrCat("connect to ", Where(), ": timed out"), std::nullopt, {});
    return;
  }
  if (tls_handshaking_) {
    OnTlsFailed("timed out");
    return;
  }
  const smtp::ClientSession::Phase phase = protocol_->phase();
  if (phase == smtp::ClientSession::Phase::kIdle) {
    protocol_->Quit();
    ArmTimer();
    return;
  }
  if (phase == smtp::ClientSession::Phase::kQuit || phase == smtp::ClientSession::Phase::kDone) {
    CloseSocket(false, "", std::nullopt, {});
    return;
  }
  absl::string_view waiting_for;
  switch (phase) {
    case smtp::ClientSession::Phase::kBanner:
      waiting_for = "the greeting";
      break;
    case smtp::ClientSession::Phase::kEhlo:
    case smtp::ClientSession::Phase::kHelo:
      waiting_for = "the EHLO reply";
      break;
    case smtp::ClientSession::Phase::kStartTls:
      waiting_for = "the STARTTLS reply";
      break;
    case smtp::ClientSession::Phase::kAuth:
      waiting_for = "the AUTH reply";
      break;
    case smtp::ClientSession::Phase::kMail:
      waiting_for = "the MAIL FROM reply";
      break;
    case smtp::ClientSession::Phase::kRcpt:
      waiting_for = "the RCPT TO reply";
      break;
    case smtp::ClientSession::Phase::kData:
      waiting_for = "the DATA reply";
      break;
    case smtp::ClientSession::Phase::kDataDot:
      waiting_for = "the reply to the end of the data";
      break;
    default:
      waiting_for = "a reply";
      break;
  }
  std::string error = absl::StrCat(Where(), ": timed out waiting for ", waiting_for);
  if (!ready_) owner_->OnTargetFailed(target());
  std::vector<smtp::RecipientOutcome> in_flight = protocol_->Abort(error);
  CloseSocket(!ready_, std::move(error), std::nullopt, std::move(in_flight));
}

void SmtpConnection::StartTransaction(smtp::Transaction transaction) {
  CHECK(idle());
  protocol_->StartTransaction(std::move(transaction));
  if (socket_ != nullptr && !socket_->closing) ArmTimer();
}

void SmtpConnection::Quit() {
  quit_requested_ = true;
  if (idle()) {
    protocol_->Quit();
    ArmTimer();
  }
}

void SmtpConnection::Abort(absl::string_view reason) {
  if (closing_) return;
  std::vector<smtp::RecipientOutcome> in_flight;
  if (protocol_) in_flight = protocol_->Abort(reason);
  if (socket_ != nullptr) {
    retry_plaintext_ = false;
    CloseSocket(false, std::string(reason), std::nullopt, std::move(in_flight));
  } else {
    close_info_.error = std::string(reason);
    Finish();
  }
}

void SmtpConnection::CloseSocket(bool try_next, std::string error, std::optional<smtp::Reply> reply,
                                 std::vector<smtp::RecipientOutcome> in_flight) {
  if (socket_ == nullptr || socket_->closing) return;
  socket_->closing = true;
  uv_timer_stop(timer_);
  if (!error.empty() || !ready_) {
    close_info_.error = std::move(error);
    close_info_.reply = std::move(reply);
  }
  for (smtp::RecipientOutcome& outcome : in_flight)
    close_info_.in_flight.push_back(std::move(outcome));
  try_next_after_close_ = try_next;
  uv_close(reinterpret_cast<uv_handle_t*>(&socket_->tcp), [](uv_handle_t* handle) {
    auto* socket = static_cast<Socket*>(handle->data);
    SmtpConnection* connection = socket->connection;
    delete socket;
    connection->socket_ = nullptr;
    connection->OnSocketClosed();
  });
}

void SmtpConnection::OnSocketClosed() {
  // The protocol's callbacks may have been on the stack when the close began; now they are
  // not, so it is safe to drop it.
  protocol_.reset();
  tls_.reset();
  tls_handshaking_ = false;
  tls_session_stored_ = false;
  if (retry_plaintext_ && !closing_ && !ready_) {
    retry_plaintext_ = false;
    plaintext_only_ = true;
    ConnectNext();
    return;
  }
  if (try_next_after_close_ && !closing_ && !ready_) {
    ++target_index_;
    plaintext_only_ = false;
    ConnectNext();
    return;
  }
  Finish();
}

void SmtpConnection::Finish() {
  if (closing_) return;
  closing_ = true;
  close_info_.all_greetings_permanent =
      !close_info_.was_ready && targets_tried_ > 0 && permanent_greetings_ == targets_tried_;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* handle) {
    auto* connection = static_cast<SmtpConnection*>(handle->data);
    delete reinterpret_cast<uv_timer_t*>(handle);
    ConnectionOwner* owner = connection->owner_;
    ConnectionOwner::CloseInfo info = std::move(connection->close_info_);
    owner->OnConnectionClosed(connection, std::move(info));
    delete connection;
  });
}

}  // namespace volley::delivery
