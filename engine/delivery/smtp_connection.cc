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
    socket_ = new Socket;
    socket_->connection = this;
    uv_tcp_init(loop_, &socket_->tcp);
    socket_->tcp.data = socket_;
    socket_->connect.data = socket_;
    uv_tcp_nodelay(&socket_->tcp, 1);
    const int rc = uv_tcp_connect(&socket_->connect, &socket_->tcp,
                                  reinterpret_cast<const sockaddr*>(&*address),
                                  [](uv_connect_t* req, int status) {
                                    auto* socket = static_cast<Socket*>(req->data);
                                    if (socket->closing) return;
                                    socket->connection->OnConnected(status);
                                  });
    if (rc != 0) {
      CloseSocket(true,
                  absl::StrCat("connect to ", target.host_name, "[", target.address,
                               "]:", target.port, ": ", uv_strerror(rc)),
                  std::nullopt, {});
      return;
    }
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<SmtpConnection*>(t->data)->OnTimeout(); },
        Millis(options_.connect_timeout), 0);
    return;
  }
  Finish();
}

void SmtpConnection::OnConnected(int status) {
  const ConnectTarget& target = targets_[target_index_];
  if (status < 0) {
    CloseSocket(true,
                absl::StrCat("connect to ", target.host_name, "[", target.address,
                             "]:", target.port, ": ", uv_strerror(status)),
                std::nullopt, {});
    return;
  }
  ClientProtocol::Callbacks callbacks;
  callbacks.write = [this](std::string bytes) { Write(std::move(bytes)); };
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
  callbacks.on_transaction_done = [this](std::vector<RecipientOutcome> outcomes) {
    owner_->OnTransactionDone(this, std::move(outcomes));
    if (closing_ || socket_ == nullptr || socket_->closing) return;
    if (protocol_->phase() != ClientProtocol::Phase::kIdle) return;  // owner started another
    if (quit_requested_) {
      protocol_->Quit();
    } else {
      owner_->OnConnectionReady(this);
    }
  };
  callbacks.on_failed = [this](const SessionError& error, std::vector<RecipientOutcome> in_flight) {
    const ConnectTarget& t = targets_[target_index_];
    std::string text = absl::StrCat(t.host_name, "[", t.address, "]: ", error.detail);
    if (error.reply) absl::StrAppend(&text, ": ", error.reply->code, " ", error.reply->Text());
    // Before a session exists, a refused greeting or EHLO means: try the next host.
    CloseSocket(!ready_, std::move(text), error.reply, std::move(in_flight));
  };
  callbacks.on_quit = [this] { CloseSocket(false, "", std::nullopt, {}); };
  protocol_ = std::make_unique<ClientProtocol>(options_.ehlo_name, std::move(callbacks));

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
  ArmTimer();
}

void SmtpConnection::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;
  if (nread < 0) {
    const ConnectTarget& t = targets_[target_index_];
    const ClientProtocol::Phase phase = protocol_->phase();
    if (phase == ClientProtocol::Phase::kQuit || phase == ClientProtocol::Phase::kDone) {
      CloseSocket(false, "", std::nullopt, {});
      return;
    }
    std::string error = absl::StrCat(
        t.host_name, "[", t.address, "]: connection ",
        nread == UV_EOF ? "closed by the server" : uv_strerror(static_cast<int>(nread)));
    std::vector<RecipientOutcome> in_flight = protocol_->Abort(error);
    CloseSocket(!ready_, std::move(error), std::nullopt, std::move(in_flight));
    return;
  }
  protocol_->OnData(absl::string_view(buf->base, static_cast<size_t>(nread)));
  if (socket_ != nullptr && !socket_->closing) ArmTimer();
}

void SmtpConnection::Write(std::string bytes) {
  if (socket_ == nullptr || socket_->closing) return;
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
    timeout = options_.connect_timeout;
  } else {
    switch (protocol_->phase()) {
      case ClientProtocol::Phase::kBanner:
        timeout = options_.banner_timeout;
        break;
      case ClientProtocol::Phase::kEhlo:
      case ClientProtocol::Phase::kHelo:
        timeout = options_.ehlo_timeout;
        break;
      case ClientProtocol::Phase::kIdle:
        timeout = options_.idle_timeout;
        break;
      case ClientProtocol::Phase::kMail:
        timeout = options_.mail_from_timeout;
        break;
      case ClientProtocol::Phase::kRcpt:
        timeout = options_.rcpt_to_timeout;
        break;
      case ClientProtocol::Phase::kData:
        timeout = options_.data_timeout;
        break;
      case ClientProtocol::Phase::kDataDot:
        timeout = options_.data_dot_timeout;
        break;
      case ClientProtocol::Phase::kQuit:
      case ClientProtocol::Phase::kDone:
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
  const ConnectTarget& t = targets_[target_index_];
  if (!protocol_) {
    CloseSocket(
        true, absl::StrCat("connect to ", t.host_name, "[", t.address, "]:", t.port, ": timed out"),
        std::nullopt, {});
    return;
  }
  const ClientProtocol::Phase phase = protocol_->phase();
  if (phase == ClientProtocol::Phase::kIdle) {
    protocol_->Quit();
    ArmTimer();
    return;
  }
  if (phase == ClientProtocol::Phase::kQuit || phase == ClientProtocol::Phase::kDone) {
    CloseSocket(false, "", std::nullopt, {});
    return;
  }
  static constexpr const char* kWaitingFor[] = {
      "the greeting",        "the EHLO reply",    "the HELO reply", "",
      "the MAIL FROM reply", "the RCPT TO reply", "the DATA reply", "the reply to the final dot"};
  std::string error = absl::StrCat(t.host_name, "[", t.address, "]: timed out waiting for ",
                                   kWaitingFor[static_cast<int>(phase)]);
  std::vector<RecipientOutcome> in_flight = protocol_->Abort(error);
  CloseSocket(!ready_, std::move(error), std::nullopt, std::move(in_flight));
}

void SmtpConnection::StartTransaction(Transaction transaction) {
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
  std::vector<RecipientOutcome> in_flight;
  if (protocol_) in_flight = protocol_->Abort(reason);
  if (socket_ != nullptr) {
    CloseSocket(false, std::string(reason), std::nullopt, std::move(in_flight));
  } else {
    close_info_.error = std::string(reason);
    Finish();
  }
}

void SmtpConnection::CloseSocket(bool try_next, std::string error, std::optional<smtp::Reply> reply,
                                 std::vector<RecipientOutcome> in_flight) {
  if (socket_ == nullptr || socket_->closing) return;
  socket_->closing = true;
  uv_timer_stop(timer_);
  if (!error.empty() || !ready_) {
    close_info_.error = std::move(error);
    close_info_.reply = std::move(reply);
  }
  for (RecipientOutcome& outcome : in_flight) close_info_.in_flight.push_back(std::move(outcome));
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
  if (try_next_after_close_ && !closing_ && !ready_) {
    ++target_index_;
    ConnectNext();
    return;
  }
  Finish();
}

void SmtpConnection::Finish() {
  if (closing_) return;
  closing_ = true;
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
