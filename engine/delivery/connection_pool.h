// The connections of one site: opening them (from the egress source the site's shaper chose,
// with TLS and AUTH settings and timeouts), which one is connecting, idle or busy, what each
// carries, and what the site's hosts taught the shard (failed hosts, TLS failures, sessions to
// resume).
#ifndef VOLLEY_ENGINE_DELIVERY_CONNECTION_POOL_H_
#define VOLLEY_ENGINE_DELIVERY_CONNECTION_POOL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/base/thread_checker.h"
#include "engine/delivery/delivery_connection.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/shard_services.h"
#include "engine/delivery/site_route.h"

namespace volley::delivery {

// All calls and callbacks on the owning shard's loop.
class ConnectionPool final : public ConnectionOwner {
 public:
  // The site queue's side.
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnReady(DeliveryConnection* connection) = 0;
    // A transaction ended: its recipients with one outcome each, in order.
    virtual void OnDone(DeliveryConnection* connection, std::vector<RecipientPtr> batch,
                        std::vector<smtp::RecipientOutcome> outcomes) = 0;
    // A connection closed (it is gone after this returns): `batch` is what it carried when it
    // closed, `never_ready` that no session was established on any host.
    virtual void OnClosed(DeliveryConnection* connection, bool never_ready,
                          std::vector<RecipientPtr> batch, CloseInfo info) = 0;
    // A new connection to `target` failed (refused, 421 greeting, ...) while `working` others
    // with it are up or starting: the host is not down, it takes no more.
    virtual void OnHostBusy(const ConnectTarget& target, int working) = 0;
  };

  ConnectionPool(const ShardServices* services, Listener* listener)
      : services_(services), listener_(listener) {}

  // Opens a connection to the first usable of `targets` from the egress source at
  // `source_index` of the site's pool, with that source's settings for the site.
  void Open(std::vector<ConnectTarget> targets, const SiteRoute& route, int source_index);
  // Gives `connection` (ready and idle) a transaction carrying `batch`.
  void Start(DeliveryConnection* connection, std::vector<RecipientPtr> batch,
             smtp::Transaction transaction);
  // An idle connection to use, or null.
  DeliveryConnection* PopIdle();
  // Keeps a ready connection with nothing to do until its idle timeout.
  void AddIdle(DeliveryConnection* connection);
  // Quits the idle connections `quit` picks.
  void QuitIdleIf(const std::function<bool(const DeliveryConnection&)>& quit);

  size_t size() const { return connections_.size(); }
  size_t idle_count() const { return idle_.size(); }
  // Connections to `target` (up, or trying it now).
  int OpenTo(const ConnectTarget& target) const;
  size_t connecting() const { return connecting_.size(); }
  size_t in_flight_recipients() const;
  // Calls `fn` on every recipient in a transaction now.
  void ForEachInFlight(const std::function<void(const QueuedRecipient&)>& fn) const;

  // Quits the idle connections, aborts those still connecting, and quits the rest after their
  // transaction.
  void BeginShutdown();
  void AbortAll(absl::string_view reason);

  // ConnectionOwner:
  void OnConnectionReady(DeliveryConnection* connection) override;
  void OnTransactionDone(DeliveryConnection* connection,
                         std::vector<smtp::RecipientOutcome> outcomes) override;
  void OnConnectionClosed(DeliveryConnection* connection, CloseInfo info) override;
  void OnTargetFailed(const ConnectTarget& target) override;
  void OnOpportunisticTlsFailed(const ConnectTarget& target) override;
  bool SkipTlsWith(const ConnectTarget& target) override;
  SSL_SESSION* TlsSessionFor(const ConnectTarget& target) override;
  void OnTlsSession(const ConnectTarget& target, bssl::UniquePtr<SSL_SESSION> session) override;
  void OnTlsHandshake(bool ok) override;

 private:
  ConnectionOptions OptionsFor(const SiteRoute& route, int source_index);

  const ShardServices* const services_;
  Listener* const listener_;
  ThreadChecker thread_;
  absl::flat_hash_set<DeliveryConnection*> connections_;
  absl::flat_hash_set<DeliveryConnection*> connecting_;  // not yet ready
  std::vector<DeliveryConnection*> idle_;
  absl::flat_hash_map<DeliveryConnection*, std::vector<RecipientPtr>> in_flight_;
  // TLS sessions to resume, by host address (RFC 5077 / 8446 tickets).
  absl::flat_hash_map<std::string, bssl::UniquePtr<SSL_SESSION>> tls_sessions_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_CONNECTION_POOL_H_
