// BoringSSL contexts for Volley's TLS: the delivery client (STARTTLS to MX hosts, implicit TLS
// to smarthosts) and the SMTP server (STARTTLS on the injection listener and the test sink).
// No I/O here: TlsSession runs over memory BIOs.
#ifndef VOLLEY_TLS_TLS_CONTEXT_H_
#define VOLLEY_TLS_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace volley::tls {

enum class TlsVersion { kTls12, kTls13 };

struct TlsContextOptions {
  enum class Role { kClient, kServer };
  Role role = Role::kClient;
  // PEM files. Required for a server; optional for a client (a client certificate).
  std::string cert_file;
  std::string key_file;
  // Trust anchors for verifying the peer (PEM bundle). Empty: the system bundle
  // (/etc/ssl/certs/ca-certificates.crt).
  std::string ca_file;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
};

// Immutable after Create; shared by every session made from it (thread-safe: BoringSSL's
// SSL_CTX is reference-counted and safe to use from several threads once configured).
class TlsContext {
 public:
  // Errors name the file or the BoringSSL error (drained from the error queue).
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(const TlsContextOptions& options);

  SSL_CTX* get() const { return ctx_.get(); }
  TlsContextOptions::Role role() const { return role_; }

 private:
  TlsContext(bssl::UniquePtr<SSL_CTX> ctx, TlsContextOptions::Role role)
      : ctx_(std::move(ctx)), role_(role) {}
  bssl::UniquePtr<SSL_CTX> ctx_;
  TlsContextOptions::Role role_;
};

// The BoringSSL error queue as text, emptied ("" when empty). For error messages.
std::string DrainErrors();

}  // namespace volley::tls

#endif  // VOLLEY_TLS_TLS_CONTEXT_H_
