#include "engine/delivery/smtp_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/net/tcp_stream.h"

namespace volley::delivery {
namespace {

constexpr absl::Duration kQuitTimeout = absl::Seconds(10);
using Phase = smtp::ClientSession::Phase;

// What the phase's timeout waits for, for the message when it expires.
absl::string_view WaitingFor(Phase phase) {
  switch (phase) {
    case Phase::kBanner:
      return "the greeting";
    case Phase::kEhlo:
    case Phase::kHelo:
      return "the EHLO reply";
    case Phase::kStartTls:
      return "the STARTTLS reply";
    case Phase::kAuth:
      return "the AUTH reply";
    case Phase::kMail:
      return "the MAIL FROM reply";
    case Phase::kRcpt:
      return "the RCPT TO reply";
    case Phase::kData:
      return "the DATA reply";
    case Phase::kDataDot:
      return "the reply to the end of the data";
    default:
      return "a reply";
  }
}

}  // namespace

ConnectionFactory SmtpConnectionFactory() {
  return [](uv_loop_t* loop, ConnectionOwner* owner, std::vector<ConnectTarget> targets,
            const ConnectionOptions& options) -> DeliveryConnection* {
    return SmtpConnection::Start(loop, owner, std::move(targets), options);
  };
}

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
    : loop_(loop),
      owner_(owner),
      targets_(std::move(targets)),
      options_(options),
      timer_(loop, [this] { OnTimeout(); }),
      deferred_(loop, [this] { AfterAttemptClosed(); }) {}

SmtpConnection::~SmtpConnection() = default;

std::string SmtpConnection::Where() const {
  const ConnectTarget& t = target();
  return absl::StrCat(t.host_name, "[", t.address, "]:", t.port);
}

void SmtpConnection::ConnectNext() {
  while (target_index_ < targets_.size() &&
         target_index_ < static_cast<size_t>(options_.max_targets)) {
    const ConnectTarget& target = targets_[target_index_];
    ++targets_tried_;
    absl::StatusOr<std::unique_ptr<net::TcpStream>> stream =
        net::TcpStream::Connect(loop_, target.address, target.port, options_.source_address,
                                [this](const absl::Status& status) { OnConnected(status); });
    if (stream.ok()) {
      stream_ = *std::move(stream);
      attempt_closing_ = false;
      ArmTimer();
      return;
    }
    const absl::Status& error = stream.status();
    if (error.code() == absl::StatusCode::kInvalidArgument) {
      // Not an address we can connect to: the next one.
      close_info_.error = std::string(error.message());
      --targets_tried_;
      ++target_index_;
      continue;
    }
    if (error.code() == absl::StatusCode::kFailedPrecondition) {
      // The egress source cannot be bound: a local problem, no point trying the other hosts.
      close_info_.error = std::string(error.message());
      Finish();
      return;
    }
    owner_->OnTargetFailed(target);
    close_info_.error = absl::StrCat("connect to ", Where(), ": ", error.message());
    ++target_index_;
  }
  Finish();
}

void SmtpConnection::OnConnected(const absl::Status& status) {
  if (!status.ok()) {
    owner_->OnTargetFailed(target());
    CloseAttempt(true, absl::StrCat("connect to ", Where(), ": ", status.message()), std::nullopt,
                 {});
    return;
  }
  SetStreamCallbacks();
  if (absl::Status reading = stream_->StartReading(); !reading.ok()) {
    owner_->OnTargetFailed(target());
    CloseAttempt(true, absl::StrCat(Where(), ": ", reading.message()), std::nullopt, {});
    return;
  }
  StartSession();
  // Implicit TLS (RFC 8314): the handshake comes before the banner.
  if (options_.tls == config::TlsPolicy::kImplicit) StartTls();
  ArmTimer();
}

void SmtpConnection::StartSession() {
  smtp::ProtocolOptions protocol = options_.protocol;
  const config::TlsPolicy policy = options_.tls;
  if (policy == config::TlsPolicy::kOpportunistic && owner_->SkipTlsWith(target())) {
    plaintext_only_ = true;
  }
  const bool required =
      policy == config::TlsPolicy::kRequired || policy == config::TlsPolicy::kRequiredVerify;
  protocol.tls_active = policy == config::TlsPolicy::kImplicit;
  protocol.starttls = !plaintext_only_ && (policy == config::TlsPolicy::kOpportunistic || required);
  protocol.tls_required = required;
  session_ = std::make_unique<smtp::ClientSession>(std::move(protocol), SessionCallbacks());
}

smtp::ClientSession::Callbacks SmtpConnection::SessionCallbacks() {
  smtp::ClientSession::Callbacks callbacks;
  callbacks.write = [this](std::string bytes) {
    if (attempt_open()) stream_->Write(std::move(bytes));
  };
  callbacks.on_starttls = [this] { StartTls(); };
  callbacks.on_ready = [this] {
    ready_ = true;
    close_info_.was_ready = true;
    close_info_.error.clear();
    close_info_.reply.reset();
    if (quit_requested_) {
      session_->Quit();
    } else {
      owner_->OnConnectionReady(this);
    }
  };
  callbacks.on_transaction_done = [this](std::vector<smtp::RecipientOutcome> outcomes) {
    owner_->OnTransactionDone(this, std::move(outcomes));
    if (finished_ || !attempt_open()) return;
    if (session_->phase() != Phase::kIdle) return;  // the owner started another
    if (quit_requested_) {
      session_->Quit();
    } else {
      owner_->OnConnectionReady(this);
    }
  };
  callbacks.on_failed = [this](const smtp::SessionError& error,
                               std::vector<smtp::RecipientOutcome> in_flight) {
    OnSessionFailed(error, std::move(in_flight));
  };
  callbacks.on_quit = [this] { CloseAttempt(false, "", std::nullopt, {}); };
  return callbacks;
}

void SmtpConnection::OnSessionFailed(const smtp::SessionError& error,
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
  CloseAttempt(!ready_, std::move(text), error.reply, std::move(in_flight));
}

void SmtpConnection::SetStreamCallbacks() {
  stream_->SetCallbacks(net::StreamCallbacks{
      .on_data = [this](absl::string_view bytes) { OnData(bytes); },
      .on_end = [this](const absl::Status& status) { OnEnd(status); },
  });
}

void SmtpConnection::OnData(absl::string_view bytes) {
  // TLS 1.3 tickets arrive after the handshake, with the first records the server sends.
  if (tls_ != nullptr && !tls_session_stored_ && tls_->session().established()) {
    if (bssl::UniquePtr<SSL_SESSION> session = tls_->session().GetSessionForResumption()) {
      owner_->OnTlsSession(target(), std::move(session));
      tls_session_stored_ = true;
    }
  }
  session_->OnData(bytes);
  if (attempt_open()) ArmTimer();
}

void SmtpConnection::OnEnd(const absl::Status& status) {
  const Phase phase = session_->phase();
  if (phase == Phase::kQuit || phase == Phase::kDone) {
    CloseAttempt(false, "", std::nullopt, {});
    return;
  }
  if (tls_handshaking_) {
    OnTlsFailed(status.ok() ? "connection closed during the handshake"
                            : std::string(status.message()));
    return;
  }
  std::string error = absl::StrCat(
      Where(), ": connection ",
      status.ok() ? "closed by the server" : absl::StrCat("failed: ", status.message()));
  if (!ready_) owner_->OnTargetFailed(target());
  std::vector<smtp::RecipientOutcome> in_flight = session_->Abort(error);
  CloseAttempt(!ready_, std::move(error), std::nullopt, std::move(in_flight));
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
  tls_handshaking_ = true;
  absl::StatusOr<std::unique_ptr<net::TlsStream>> tls =
      net::TlsStream::Client(std::move(stream_), options_.tls_context, session_options);
  if (!tls.ok()) {
    OnTlsFailed(std::string(tls.status().message()));
    return;
  }
  tls_ = tls->get();
  tls_->set_on_established([this] { OnTlsEstablished(tls_); });
  stream_ = *std::move(tls);
  SetStreamCallbacks();
}

void SmtpConnection::OnTlsEstablished(net::TlsStream* tls) {
  tls_handshaking_ = false;
  tls_version_ = tls->session().protocol_version();
  tls_cipher_ = tls->session().cipher();
  owner_->OnTlsHandshake(true);
  // After STARTTLS the session starts over; with implicit TLS the banner is still to come.
  if (session_->phase() == Phase::kTlsHandshake) session_->OnTlsEstablished();
}

void SmtpConnection::OnTlsFailed(const std::string& why) {
  owner_->OnTlsHandshake(false);
  const std::string error = absl::StrCat(Where(), ": TLS handshake failed: ", why);
  if (options_.tls == config::TlsPolicy::kOpportunistic && !plaintext_only_) {
    // RFC 7435: a failed opportunistic handshake is not worth losing the delivery over; try
    // the same host once more without STARTTLS.
    owner_->OnOpportunisticTlsFailed(target());
    retry_plaintext_ = true;
    CloseAttempt(true, error, std::nullopt, {});
    return;
  }
  owner_->OnTargetFailed(target());
  std::vector<smtp::RecipientOutcome> in_flight;
  if (session_) in_flight = session_->Abort(error);
  CloseAttempt(!ready_, error, std::nullopt, std::move(in_flight));
}

absl::Duration SmtpConnection::PhaseTimeout() const {
  const config::SmtpTimeouts& t = options_.timeouts;
  if (!session_) return t.connect;
  if (tls_handshaking_) return t.ehlo;
  switch (session_->phase()) {
    case Phase::kBanner:
      return t.banner;
    case Phase::kEhlo:
    case Phase::kHelo:
    case Phase::kStartTls:
    case Phase::kTlsHandshake:
    case Phase::kAuth:
      return t.ehlo;
    case Phase::kIdle:
      return t.idle;
    case Phase::kMail:
      return t.mail_from;
    case Phase::kRcpt:
      return t.rcpt_to;
    case Phase::kData:
      return t.data;
    case Phase::kDataDot:
      return t.data_dot;
    case Phase::kQuit:
    case Phase::kDone:
      return kQuitTimeout;
  }
  return kQuitTimeout;
}

void SmtpConnection::ArmTimer() {
  if (finished_) return;
  timer_.Start(std::max(absl::Milliseconds(1), PhaseTimeout()));
}

void SmtpConnection::OnTimeout() {
  if (!attempt_open()) return;
  if (!session_) {
    owner_->OnTargetFailed(target());
    CloseAttempt(true, absl::StrCat("connect to ", Where(), ": timed out"), std::nullopt, {});
    return;
  }
  if (tls_handshaking_) {
    OnTlsFailed("timed out");
    return;
  }
  const Phase phase = session_->phase();
  if (phase == Phase::kIdle) {
    session_->Quit();
    ArmTimer();
    return;
  }
  if (phase == Phase::kQuit || phase == Phase::kDone) {
    CloseAttempt(false, "", std::nullopt, {});
    return;
  }
  std::string error = absl::StrCat(Where(), ": timed out waiting for ", WaitingFor(phase));
  if (!ready_) owner_->OnTargetFailed(target());
  std::vector<smtp::RecipientOutcome> in_flight = session_->Abort(error);
  CloseAttempt(!ready_, std::move(error), std::nullopt, std::move(in_flight));
}

void SmtpConnection::StartTransaction(smtp::Transaction transaction) {
  DCHECK(thread_.InLoopThread());
  CHECK(idle());
  session_->StartTransaction(std::move(transaction));
  if (attempt_open()) ArmTimer();
}

void SmtpConnection::Quit() {
  DCHECK(thread_.InLoopThread());
  quit_requested_ = true;
  if (idle()) {
    session_->Quit();
    ArmTimer();
  }
}

void SmtpConnection::Abort(absl::string_view reason) {
  DCHECK(thread_.InLoopThread());
  if (finished_) return;
  std::vector<smtp::RecipientOutcome> in_flight;
  if (session_) in_flight = session_->Abort(reason);
  if (attempt_open()) {
    retry_plaintext_ = false;
    CloseAttempt(false, std::string(reason), std::nullopt, std::move(in_flight));
    return;
  }
  close_info_.error = std::string(reason);
  Finish();
}

void SmtpConnection::CloseAttempt(bool try_next, std::string error,
                                  std::optional<smtp::Reply> reply,
                                  std::vector<smtp::RecipientOutcome> in_flight) {
  if (stream_ == nullptr && !tls_handshaking_) return;
  if (attempt_closing_) return;
  attempt_closing_ = true;
  timer_.Stop();
  if (!error.empty() || !ready_) {
    close_info_.error = std::move(error);
    close_info_.reply = std::move(reply);
  }
  for (smtp::RecipientOutcome& outcome : in_flight) {
    close_info_.in_flight.push_back(std::move(outcome));
  }
  try_next_after_close_ = try_next;
  // The stream may be closed from inside its own callback; the session may not be destroyed
  // under its own callbacks, so the rest waits for the next loop turn.
  if (stream_ != nullptr) stream_->Close();
  stream_.reset();
  tls_ = nullptr;
  deferred_.Start(absl::ZeroDuration());
}

void SmtpConnection::AfterAttemptClosed() {
  if (finished_) {
    // The report to the owner, then the end.
    ConnectionOwner::CloseInfo info = std::move(close_info_);
    owner_->OnConnectionClosed(this, std::move(info));
    delete this;
    return;
  }
  session_.reset();
  tls_handshaking_ = false;
  tls_session_stored_ = false;
  attempt_closing_ = false;
  if (retry_plaintext_ && !ready_) {
    retry_plaintext_ = false;
    plaintext_only_ = true;
    ConnectNext();
    return;
  }
  if (try_next_after_close_ && !ready_) {
    ++target_index_;
    plaintext_only_ = false;
    ConnectNext();
    return;
  }
  Finish();
}

void SmtpConnection::Finish() {
  if (finished_) return;
  finished_ = true;
  close_info_.all_greetings_permanent =
      !close_info_.was_ready && targets_tried_ > 0 && permanent_greetings_ == targets_tried_;
  timer_.Stop();
  stream_.reset();
  deferred_.Start(absl::ZeroDuration());
}

}  // namespace volley::delivery
