// One TLS connection over memory BIOs: the caller moves encrypted bytes between the socket and
// the session, and plaintext between the session and the protocol. Nothing blocks and nothing
// here knows about sockets or loops (the libuv code drives it; tests pump two sessions against
// each other in memory).
//
// The four pumps (as Node's TLSWrap names them): EncIn (OnEncryptedInput: socket bytes into
// the network BIO, then SSL_do_handshake / SSL_read), ClearOut (decrypted data appended to the
// caller's buffer), ClearIn (WritePlaintext: SSL_write, buffered until the handshake is done),
// EncOut (TakeEncryptedOutput: what the network BIO has for the socket). After any call, the
// caller sends TakeEncryptedOutput().
#ifndef VOLLEY_TLS_TLS_SESSION_H_
#define VOLLEY_TLS_TLS_SESSION_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tls/tls_context.h"

namespace volley::tls {

struct ClientSessionOptions {
  // SNI; and, with verify_peer, the name the certificate must match (RFC 6125, wildcards in the
  // left-most label only). Not sent as SNI when it is an IP literal.
  std::string server_name;
  // Verify the chain against the context's trust anchors and the name against server_name.
  bool verify_peer = false;
  // A session from an earlier connection to the same destination, to resume (may be null).
  SSL_SESSION* resume = nullptr;
};

class TlsSession {
 public:
  enum class State { kHandshaking, kEstablished, kClosed, kFailed };

  static absl::StatusOr<std::unique_ptr<TlsSession>> CreateClient(
      std::shared_ptr<TlsContext> context, const ClientSessionOptions& options);
  static absl::StatusOr<std::unique_ptr<TlsSession>> CreateServer(
      std::shared_ptr<TlsContext> context);
  ~TlsSession();

  // Client: produces the ClientHello (then TakeEncryptedOutput). Server: nothing to do; it
  // waits for the ClientHello.
  absl::Status StartHandshake();

  // Bytes received from the peer. Application data decrypted from them is appended to
  // *plaintext. An error (handshake failure, bad record, certificate rejected) puts the session
  // in kFailed; the status says why (BoringSSL's reason, and for verification the X509 error).
  // A close_notify from the peer puts it in kClosed.
  absl::Status OnEncryptedInput(absl::string_view bytes, std::string* plaintext);

  // Application data to send; held until the handshake completes. Error when failed/closed.
  absl::Status WritePlaintext(absl::string_view data);

  // Everything the session wants sent to the peer now (handshake messages, records, alerts).
  std::string TakeEncryptedOutput();
  bool HasEncryptedOutput() const;

  // Sends close_notify (then TakeEncryptedOutput).
  void Shutdown();

  State state() const { return state_; }
  bool established() const { return state_ == State::kEstablished; }
  // After the handshake: "TLSv1.2" / "TLSv1.3", and the IANA cipher suite name
  // ("TLS_AES_128_GCM_SHA256").
  std::string protocol_version() const;
  std::string cipher() const;
  // Whether the handshake resumed a session.
  bool resumed() const;
  // The session to cache for resumption (client, after the handshake; for TLS 1.3 possibly
  // only after the first application data arrived, since tickets come after the handshake).
  // Null when there is none.
  bssl::UniquePtr<SSL_SESSION> GetSessionForResumption() const;

 private:
  TlsSession() = default;
  static absl::StatusOr<std::unique_ptr<TlsSession>> Create(std::shared_ptr<TlsContext> context);
  absl::Status Pump(std::string* plaintext);
  absl::Status Handshake();
  absl::Status ClearOut(std::string* plaintext);
  absl::Status ClearIn(absl::string_view data, size_t* written);
  absl::Status FlushPendingPlaintext();
  // Moves what the network BIO holds into outgoing_; returns the number of bytes moved.
  size_t EncOut();
  // Enters kFailed and remembers `status` for later calls.
  absl::Status Fail(absl::Status status);

  std::shared_ptr<TlsContext> context_;
  bssl::UniquePtr<SSL> ssl_;
  BIO* network_bio_ = nullptr;  // our end of the pair; the SSL owns the other end
  State state_ = State::kHandshaking;
  absl::Status failure_;           // why the session failed, once kFailed
  std::string pending_plaintext_;  // written before the handshake finished
  // Encrypted bytes taken out of the network BIO, so that the BIO never blocks the SSL (its
  // buffer is 64 KiB; a large write or input produces more) until TakeEncryptedOutput.
  std::string outgoing_;
  // The newest session the client context's new-session callback delivered (SSL_get_session
  // never returns a resumable session in TLS 1.3). The SSL's app data points here.
  bssl::UniquePtr<SSL_SESSION> new_session_;
};

}  // namespace volley::tls

#endif  // VOLLEY_TLS_TLS_SESSION_H_
