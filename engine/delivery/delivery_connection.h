// One outbound SMTP connection as the site's connection pool sees it, and the pool's side of
// it. SmtpConnection is the real one; unit tests of the delivery logic drive fakes.
#ifndef VOLLEY_ENGINE_DELIVERY_DELIVERY_CONNECTION_H_
#define VOLLEY_ENGINE_DELIVERY_DELIVERY_CONNECTION_H_

#include <openssl/ssl.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/config/config.h"
#include "engine/delivery/site_route.h"
#include "engine/smtp/client_session.h"
#include "engine/smtp/reply.h"
#include "tls/tls_context.h"

namespace volley::delivery {

struct ConnectionOptions {
  smtp::ProtocolOptions protocol;  // EHLO name, AUTH; STARTTLS flags are set from `tls`
  config::TlsPolicy tls = config::TlsPolicy::kOpportunistic;
  std::shared_ptr<tls::TlsContext> tls_context;  // a client context; needed unless disabled
  std::string source_address;  // egress: local address to bind; "" / 0.0.0.0 / :: = any
  std::string egress_pool;     // names, for log records
  std::string egress_source;
  int egress_source_index = 0;  // in the pool, for the site's limits per source
  config::SmtpTimeouts timeouts;
  // Connection attempts per connection (hosts x addresses), so one dead site cannot keep a
  // connection slot for hours.
  int max_targets = 10;
};

class DeliveryConnection;

// The pool's side. All callbacks run on the loop thread; the connection must not be destroyed
// by the owner (it deletes itself after OnConnectionClosed).
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // The session is ready for a transaction (after EHLO, and again after each transaction the
  // owner did not follow up). Call StartTransaction, Quit, or nothing (the connection idles and
  // quits after its idle timeout).
  virtual void OnConnectionReady(DeliveryConnection* connection) = 0;
  virtual void OnTransactionDone(DeliveryConnection* connection,
                                 std::vector<smtp::RecipientOutcome> outcomes) = 0;

  struct CloseInfo {
    bool was_ready = false;            // a session was established on some host
    std::string error;                 // why the last attempt or the session ended ("" after QUIT)
    std::optional<smtp::Reply> reply;  // the server reply behind `error`, when there was one
    std::vector<smtp::RecipientOutcome> in_flight;  // outcomes of a transaction cut short
    // Every host tried refused with a 5xx greeting: the destination does not take mail.
    bool all_greetings_permanent = false;
  };
  // The connection is closed; it is deleted right after this returns.
  virtual void OnConnectionClosed(DeliveryConnection* connection, CloseInfo info) = 0;

  // A host could not be used (connection refused or timed out, greeting refused, TLS failed),
  // so the owner can skip it for a while.
  virtual void OnTargetFailed(const ConnectTarget& target) = 0;
  // STARTTLS failed under the opportunistic policy: the connection retries this host once in
  // plaintext; the owner may remember to skip TLS with it for a while.
  virtual void OnOpportunisticTlsFailed(const ConnectTarget& target) = 0;
  // Whether to skip STARTTLS with this host (after such a failure), under the opportunistic
  // policy.
  virtual bool SkipTlsWith(const ConnectTarget& target) = 0;
  // TLS session resumption: the session to offer to a host, and a new one to keep.
  virtual SSL_SESSION* TlsSessionFor(const ConnectTarget& target) = 0;
  virtual void OnTlsSession(const ConnectTarget& target, bssl::UniquePtr<SSL_SESSION> session) = 0;
  virtual void OnTlsHandshake(bool ok) = 0;
};

// All calls on the loop's thread.
class DeliveryConnection {
 public:
  virtual ~DeliveryConnection() = default;
  // Only when ready and idle.
  virtual void StartTransaction(smtp::Transaction transaction) = 0;
  // Ends the session politely (QUIT) when idle; otherwise once the transaction is done.
  virtual void Quit() = 0;
  // Closes at once; a transaction in flight fails with a transient outcome.
  virtual void Abort(absl::string_view reason) = 0;
  // Transactions completed on the session so far.
  virtual int transactions() const = 0;
  // The host currently connected (or the last one tried).
  virtual const ConnectTarget& target() const = 0;
  // The TLS in use ("" without TLS), for log records.
  virtual const std::string& tls_version() const = 0;
  virtual const std::string& tls_cipher() const = 0;
  virtual const ConnectionOptions& options() const = 0;
  // The server offers DSN (RFC 3461): NOTIFY and ORCPT go on to it, and it reports.
  virtual bool offers_dsn() const { return false; }
};

// Makes a connection that starts connecting at once to the first usable of `targets` (not
// empty).
using ConnectionFactory = std::function<DeliveryConnection*(uv_loop_t* loop, ConnectionOwner* owner,
                                                            std::vector<ConnectTarget> targets,
                                                            const ConnectionOptions& options)>;

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_DELIVERY_CONNECTION_H_
