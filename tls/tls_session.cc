#include "tls/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/base/net_address.h"
#include "engine/base/status_macros.h"

// Status codes, so that callers can tell failures apart without parsing text:
//   UnauthenticatedError  the peer's certificate was rejected (chain or name);
//   UnavailableError      any other handshake or record failure, or an alert from the peer;
//   FailedPrecondition    a call that the session's state does not allow;
//   InvalidArgument       bad options; InternalError: BoringSSL misbehaving.

namespace volley::tls {
namespace {

// Each side of the BIO pair buffers 64 KiB: four full records, so that SSL_write and SSL_read
// rarely stop for room, and the network end is emptied after every step anyway.
constexpr size_t kBioBufferSize = 64 * 1024;

// The largest TLS record payload. Writing at most this much per SSL_write means a WANT_WRITE
// retry repeats the same small call, which BoringSSL requires.
constexpr size_t kMaxRecordPayload = 16 * 1024;

// The SSL_get_error reasons we do not expect from memory BIOs, for messages.
std::string ErrorText(int ssl_error) {
  std::string errors = DrainErrors();
  if (!errors.empty()) return errors;
  switch (ssl_error) {
    case SSL_ERROR_SYSCALL:
      return "unexpected end of the TLS stream";
    case SSL_ERROR_ZERO_RETURN:
      return "peer closed the TLS session";
    default:
      return absl::StrCat("SSL_get_error ", ssl_error);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::Create(
    std::shared_ptr<TlsContext> context) {
  if (context == nullptr) return absl::InvalidArgumentError("TLS session without a context");
  ERR_clear_error();
  auto session = std::unique_ptr<TlsSession>(new TlsSession());
  session->context_ = std::move(context);
  session->ssl_.reset(SSL_new(session->context_->get()));
  if (session->ssl_ == nullptr) {
    return absl::InternalError(absl::StrCat("SSL_new: ", DrainErrors()));
  }
  BIO* internal_bio = nullptr;
  if (!BIO_new_bio_pair(&internal_bio, kBioBufferSize, &session->network_bio_, kBioBufferSize)) {
    return absl::InternalError(absl::StrCat("BIO_new_bio_pair: ", DrainErrors()));
  }
  // The SSL takes the one reference to its end; we free ours in the destructor.
  SSL_set_bio(session->ssl_.get(), internal_bio, internal_bio);
  return session;
}

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::CreateClient(
    std::shared_ptr<TlsContext> context, const ClientSessionOptions& options) {
  if (context != nullptr && context->role() != TlsContextOptions::Role::kClient) {
    return absl::InvalidArgumentError("TLS client session on a server context");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TlsSession> session, Create(std::move(context)));
  SSL* ssl = session->ssl_.get();
  SSL_set_connect_state(ssl);
  // OnNewClientSession (tls_context.cc) stores the sessions the server hands us here.
  SSL_set_app_data(ssl, &session->new_session_);

  // A name from DNS may end in a dot; neither SNI (RFC 6066) nor the certificate has it.
  const std::string name(absl::StripSuffix(options.server_name, "."));
  const bool ip_literal = ::volley::IsIpLiteral(name);
  if (!name.empty() && !ip_literal && !SSL_set_tlsext_host_name(ssl, name.c_str())) {
    return absl::InvalidArgumentError(
        absl::StrCat("SSL_set_tlsext_host_name(", name, "): ", DrainErrors()));
  }
  if (options.verify_peer) {
    if (name.empty()) {
      return absl::InvalidArgumentError("TLS verify_peer needs a server_name to check");
    }
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    // BoringSSL matches wildcards only as the whole left-most label, as RFC 6125 asks.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    const int ok = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                              : X509_VERIFY_PARAM_set1_host(param, name.data(), name.size());
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot verify the TLS peer as ", name, ": ", DrainErrors()));
    }
  } else {
    // Opportunistic TLS (RFC 7435): encrypt with any certificate rather than send in clear.
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
  }
  if (options.resume != nullptr && !SSL_set_session(ssl, options.resume)) {
    return absl::InternalError(absl::StrCat("SSL_set_session: ", DrainErrors()));
  }
  return session;
}

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::CreateServer(
    std::shared_ptr<TlsContext> context) {
  if (context != nullptr && context->role() != TlsContextOptions::Role::kServer) {
    return absl::InvalidArgumentError("TLS server session on a client context");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TlsSession> session, Create(std::move(context)));
  SSL_set_accept_state(session->ssl_.get());
  return session;
}

TlsSession::~TlsSession() {
  ssl_.reset();  // before new_session_, which its app data points at
  BIO_free(network_bio_);
}

absl::Status TlsSession::StartHandshake() {
  if (state_ == State::kFailed) return failure_;
  if (state_ != State::kHandshaking) return absl::OkStatus();
  ERR_clear_error();
  return Pump(nullptr);
}

absl::Status TlsSession::OnEncryptedInput(absl::string_view bytes, std::string* plaintext) {
  if (state_ == State::kFailed) return failure_;
  // Nothing after a close_notify (ours or the peer's) is application data.
  if (state_ == State::kClosed) return absl::OkStatus();
  if (plaintext == nullptr) return absl::InvalidArgumentError("OnEncryptedInput needs plaintext");
  ERR_clear_error();
  while (!bytes.empty()) {
    // The network BIO takes at most its free space; the pump below empties it again.
    const size_t room = BIO_ctrl_get_write_guarantee(network_bio_);
    if (room == 0) {
      return Fail(absl::InternalError("TLS network BIO full after the SSL read from it"));
    }
    const size_t chunk = std::min({room, bytes.size(), static_cast<size_t>(INT_MAX)});
    const int written = BIO_write(network_bio_, bytes.data(), static_cast<int>(chunk));
    if (written <= 0) {
      return Fail(absl::InternalError(absl::StrCat("BIO_write: ", DrainErrors())));
    }
    bytes.remove_prefix(static_cast<size_t>(written));
    RETURN_IF_ERROR(Pump(plaintext));
    if (state_ != State::kHandshaking && state_ != State::kEstablished) break;
  }
  return absl::OkStatus();
}

absl::Status TlsSession::WritePlaintext(absl::string_view data) {
  if (state_ == State::kFailed) return failure_;
  if (state_ == State::kClosed) {
    return absl::FailedPreconditionError("TLS session closed; cannot write");
  }
  if (state_ == State::kHandshaking) {
    pending_plaintext_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  ERR_clear_error();
  absl::Status status;
  if (pending_plaintext_.empty()) {
    // The common case writes straight from the caller's buffer.
    size_t written = 0;
    status = ClearIn(data, &written);
    // ClearIn stops early only when the SSL waits for the peer: the rest goes out later.
    if (status.ok()) pending_plaintext_.append(data.data() + written, data.size() - written);
  } else {
    pending_plaintext_.append(data.data(), data.size());
    status = FlushPendingPlaintext();
  }
  EncOut();
  return status;
}

std::string TlsSession::TakeEncryptedOutput() {
  EncOut();
  return std::exchange(outgoing_, std::string());
}

bool TlsSession::HasEncryptedOutput() const {
  return !outgoing_.empty() || BIO_pending(network_bio_) > 0;
}

void TlsSession::Shutdown() {
  if (state_ == State::kEstablished) {
    ERR_clear_error();
    // The return value only says whether the peer's close_notify came too; we do not wait.
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    EncOut();
  }
  // During the handshake there is no close_notify to send (BoringSSL refuses): the caller
  // just drops the connection.
  if (state_ != State::kFailed) state_ = State::kClosed;
}

std::string TlsSession::protocol_version() const {
  if (SSL_in_init(ssl_.get())) return "";
  return SSL_get_version(ssl_.get());
}

std::string TlsSession::cipher() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_.get());
  if (cipher == nullptr) return "";
  return SSL_CIPHER_standard_name(cipher);
}

bool TlsSession::resumed() const { return SSL_session_reused(ssl_.get()) == 1; }

// In TLS 1.3 the session is a ticket, which a BoringSSL server sends with its first write after
// the handshake; in SMTP that is the reply to the EHLO following STARTTLS.
bssl::UniquePtr<SSL_SESSION> TlsSession::GetSessionForResumption() const {
  if (new_session_ != nullptr && SSL_SESSION_is_resumable(new_session_.get())) {
    return bssl::UpRef(new_session_);
  }
  // A TLS 1.2 session resumed without a new ticket produces no callback but stays usable.
  if (SSL_in_init(ssl_.get())) return nullptr;
  SSL_SESSION* session = SSL_get_session(ssl_.get());
  if (session != nullptr && SSL_SESSION_is_resumable(session)) return bssl::UpRef(session);
  return nullptr;
}

absl::Status TlsSession::Pump(std::string* plaintext) {
  if (state_ == State::kHandshaking) RETURN_IF_ERROR(Handshake());
  if (state_ == State::kEstablished) {
    // Post-handshake messages (TLS 1.3 tickets) and application data both arrive through
    // SSL_read, so it runs even when the caller expects no data yet.
    if (plaintext != nullptr) {
      RETURN_IF_ERROR(ClearOut(plaintext));
    }
    if (state_ == State::kEstablished) RETURN_IF_ERROR(FlushPendingPlaintext());
  }
  EncOut();
  return absl::OkStatus();
}

absl::Status TlsSession::Handshake() {
  SSL* ssl = ssl_.get();
  while (true) {
    const int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
      state_ = State::kEstablished;
      return absl::OkStatus();
    }
    const int error = SSL_get_error(ssl, rc);
    if (error == SSL_ERROR_WANT_READ) return absl::OkStatus();
    // The SSL filled the network BIO; make room and go on.
    if (error == SSL_ERROR_WANT_WRITE && EncOut() > 0) continue;
    std::string why = ErrorText(error);
    // The peer's certificate was checked (SSL_VERIFY_PEER) and rejected: say what was wrong
    // with it ("Hostname mismatch", "unable to get local issuer certificate", ...).
    const long verify_result = SSL_get_verify_result(ssl);
    if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0 && verify_result != X509_V_OK) {
      EncOut();  // the alert for the peer
      return Fail(absl::UnauthenticatedError(absl::StrCat(
          "TLS certificate verification failed: ", X509_verify_cert_error_string(verify_result),
          " (", why, ")")));
    }
    EncOut();
    return Fail(absl::UnavailableError(absl::StrCat("TLS handshake failed: ", why)));
  }
}

absl::Status TlsSession::ClearOut(std::string* plaintext) {
  SSL* ssl = ssl_.get();
  char buffer[kMaxRecordPayload];
  while (true) {
    const int rc = SSL_read(ssl, buffer, sizeof(buffer));
    if (rc > 0) {
      plaintext->append(buffer, static_cast<size_t>(rc));
      continue;
    }
    const int error = SSL_get_error(ssl, rc);
    switch (error) {
      case SSL_ERROR_WANT_READ:
        return absl::OkStatus();
      case SSL_ERROR_WANT_WRITE:
        // Reading may need to answer (a TLS 1.3 KeyUpdate); make room for that.
        if (EncOut() > 0) continue;
        break;
      case SSL_ERROR_ZERO_RETURN:
        state_ = State::kClosed;
        return absl::OkStatus();
      default:
        break;
    }
    EncOut();  // an alert, if BoringSSL sent one
    return Fail(absl::UnavailableError(absl::StrCat("TLS read failed: ", ErrorText(error))));
  }
}

absl::Status TlsSession::ClearIn(absl::string_view data, size_t* written) {
  SSL* ssl = ssl_.get();
  *written = 0;
  // The records of a large write go to outgoing_ one BIO-full at a time: size it once, rather
  // than let it grow (and copy) by doubling.
  if (data.size() > kBioBufferSize) {
    const size_t records = (data.size() + kMaxRecordPayload - 1) / kMaxRecordPayload;
    outgoing_.reserve(outgoing_.size() + BIO_pending(network_bio_) + data.size() +
                      records * SSL_max_seal_overhead(ssl));
  }
  while (*written < data.size()) {
    const size_t chunk = std::min(data.size() - *written, kMaxRecordPayload);
    const int rc = SSL_write(ssl, data.data() + *written, static_cast<int>(chunk));
    if (rc > 0) {
      *written += static_cast<size_t>(rc);
      continue;
    }
    const int error = SSL_get_error(ssl, rc);
    // A full network BIO: empty it and repeat the same write, as BoringSSL requires.
    if (error == SSL_ERROR_WANT_WRITE && EncOut() > 0) continue;
    // Waiting for the peer (a handshake in progress): the caller keeps the rest.
    if (error == SSL_ERROR_WANT_READ) return absl::OkStatus();
    EncOut();
    return Fail(absl::UnavailableError(absl::StrCat("TLS write failed: ", ErrorText(error))));
  }
  return absl::OkStatus();
}

absl::Status TlsSession::FlushPendingPlaintext() {
  if (pending_plaintext_.empty()) return absl::OkStatus();
  size_t written = 0;
  absl::Status status = ClearIn(pending_plaintext_, &written);
  pending_plaintext_.erase(0, written);
  return status;
}

size_t TlsSession::EncOut() {
  size_t moved = 0;
  while (const size_t pending = BIO_pending(network_bio_)) {
    const size_t old_size = outgoing_.size();
    outgoing_.resize(old_size + pending);
    const int n = BIO_read(network_bio_, outgoing_.data() + old_size, static_cast<int>(pending));
    outgoing_.resize(old_size + static_cast<size_t>(std::max(n, 0)));
    if (n <= 0) break;
    moved += static_cast<size_t>(n);
  }
  return moved;
}

absl::Status TlsSession::Fail(absl::Status status) {
  state_ = State::kFailed;
  failure_ = status;
  return status;
}

}  // namespace volley::tls
