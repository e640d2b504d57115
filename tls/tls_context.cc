#include "tls/tls_context.h"

#include <openssl/err.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/base/status_macros.h"

namespace volley::tls {
namespace {

constexpr char kSystemTrustAnchors[] = "/etc/ssl/certs/ca-certificates.crt";

// Sessions resumed by the server are only those of its own context: SSL_CTX_new gives each
// server context fresh ticket keys, and the id context keeps sessions of other applications
// sharing a cache apart.
constexpr absl::string_view kSessionIdContext = "volley";

uint16_t ProtocolVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_3_VERSION;
}

// BoringSSL reports a missing file as a bare "system library" error; checking first gives the
// operator the errno text with the file name.
absl::Status CheckReadable(absl::string_view what, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    const int error = errno;
    const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  return absl::OkStatus();
}

// The client context's new-session callback. TlsSession points the app data of its client SSLs
// at its `bssl::UniquePtr<SSL_SESSION>` slot (tls_session.cc), which keeps the newest session:
// TLS 1.3 tickets arrive after the handshake, and SSL_get_session never returns them.
int OnNewClientSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<bssl::UniquePtr<SSL_SESSION>*>(SSL_get_app_data(ssl));
  if (slot == nullptr) return 0;  // not ours to keep; BoringSSL drops its reference
  slot->reset(session);           // returning 1 hands us the reference
  return 1;
}

}  // namespace

std::string DrainErrors() {
  std::string text;
  while (uint32_t error = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(error, buffer, sizeof(buffer));
    if (!text.empty()) text.append("; ");
    text.append(buffer);
  }
  return text;
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsContextOptions& options) {
  const bool server = options.role == TlsContextOptions::Role::kServer;
  if (ProtocolVersion(options.min_version) > ProtocolVersion(options.max_version)) {
    return absl::InvalidArgumentError("TLS min_version is above max_version");
  }
  if (server && (options.cert_file.empty() || options.key_file.empty())) {
    return absl::InvalidArgumentError("a TLS server needs cert_file and key_file");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("TLS cert_file and key_file go together");
  }

  // Errors left on this thread's queue by someone else must not end up in our messages.
  ERR_clear_error();
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", DrainErrors()));
  if (!SSL_CTX_set_min_proto_version(ctx.get(), ProtocolVersion(options.min_version)) ||
      !SSL_CTX_set_max_proto_version(ctx.get(), ProtocolVersion(options.max_version))) {
    return absl::InternalError(absl::StrCat("SSL_CTX_set_*_proto_version: ", DrainErrors()));
  }

  if (!options.cert_file.empty()) {
    RETURN_IF_ERROR(CheckReadable("TLS certificate file", options.cert_file));
    RETURN_IF_ERROR(CheckReadable("TLS key file", options.key_file));
    if (!SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str())) {
      return absl::InvalidArgumentError(absl::StrCat("cannot load TLS certificate chain from ",
                                                     options.cert_file, ": ", DrainErrors()));
    }
    // BoringSSL already refuses a key that does not match the certificate here; the message
    // names both files since either may be the wrong one.
    if (!SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM) ||
        !SSL_CTX_check_private_key(ctx.get())) {
      return absl::InvalidArgumentError(absl::StrCat("cannot use TLS private key ",
                                                     options.key_file, " with certificate ",
                                                     options.cert_file, ": ", DrainErrors()));
    }
  }

  if (server) {
    // Resumption: the built-in server cache for TLS 1.2 session ids, and tickets (on by default,
    // keys generated and rotated by BoringSSL), which TLS 1.3 uses.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
    if (!SSL_CTX_set_session_id_context(ctx.get(),
                                        reinterpret_cast<const uint8_t*>(kSessionIdContext.data()),
                                        kSessionIdContext.size())) {
      return absl::InternalError(absl::StrCat("SSL_CTX_set_session_id_context: ", DrainErrors()));
    }
  } else {
    // The server does not ask for client certificates, so trust anchors matter to clients only.
    const std::string ca_file = options.ca_file.empty() ? kSystemTrustAnchors : options.ca_file;
    RETURN_IF_ERROR(CheckReadable("TLS CA file", ca_file));
    if (!SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load TLS trust anchors from ", ca_file, ": ", DrainErrors()));
    }
    // A client has no internal cache in BoringSSL; the mode only turns the callback on, and the
    // caller keeps sessions per destination (TlsSession::GetSessionForResumption).
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(ctx.get(), &OnNewClientSession);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(ctx), options.role));
}

}  // namespace volley::tls
