// TLS over another stream: a tls::TlsSession (BoringSSL over memory BIOs) fed by the stream
// below it, which it takes over. Used for STARTTLS (server and client) and implicit TLS.
#ifndef VOLLEY_ENGINE_NET_TLS_STREAM_H_
#define VOLLEY_ENGINE_NET_TLS_STREAM_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "engine/net/stream.h"
#include "tls/tls_context.h"
#include "tls/tls_session.h"

namespace volley::net {

// Bytes written are encrypted (held until the handshake is done) and sent through the
// transport; bytes received are decrypted, and only plaintext reaches on_data, so that nothing
// a client sent in the clear after STARTTLS can ever be taken for a command. A failed
// handshake or a bad record ends the stream: on_end with the reason (any alert explaining it is
// sent first); a close_notify from the peer ends it with OK.
//
// All calls and callbacks on the loop's thread (see Stream).
class TlsStream final : public Stream {
 public:
  // Starts the handshake over `transport` (a client sends its ClientHello now). The transport's
  // callbacks are replaced; it must be open and reading (StartReading is called here too).
  static absl::StatusOr<std::unique_ptr<TlsStream>> Client(
      std::unique_ptr<Stream> transport, std::shared_ptr<tls::TlsContext> context,
      const tls::ClientSessionOptions& options);
  static absl::StatusOr<std::unique_ptr<TlsStream>> Server(
      std::unique_ptr<Stream> transport, std::shared_ptr<tls::TlsContext> context);
  ~TlsStream() override;

  // Called once, when the handshake completes (before any on_data).
  void set_on_established(absl::AnyInvocable<void()> on_established);
  // The TLS session: protocol version, cipher, the session to keep for resumption.
  const tls::TlsSession& session() const;

  void SetCallbacks(StreamCallbacks callbacks) override;
  absl::Status StartReading() override;
  void StopReading() override;
  void Write(std::string bytes) override;
  // Sends close_notify first when the handshake is done.
  void Shutdown(absl::Duration linger) override;
  void Close() override;
  bool closed() const override;
  const std::string& peer_address() const override;
  const std::string& local_address() const override;

 private:
  struct State;
  explicit TlsStream(std::shared_ptr<State> state);
  static absl::StatusOr<std::unique_ptr<TlsStream>> Start(std::unique_ptr<Stream> transport,
                                                          std::unique_ptr<tls::TlsSession> session);
  // Shared with the callbacks installed on the transport, which may outlive this object until
  // the transport's handle is closed.
  std::shared_ptr<State> state_;
};

}  // namespace volley::net

#endif  // VOLLEY_ENGINE_NET_TLS_STREAM_H_
