// The ready queue and connection pool of one site (a set of MX hosts, or a smarthost route) on
// the shard that owns it. Every domain that resolves to the site shares this queue, its
// connections and its limits (RFC 5321 does not care which recipient domain a transaction is
// for, and a receiving site judges us by the connections we open to it). Opens up to
// connection_limit connections from the egress pool's sources in turn, hands each ready
// connection the next transaction (up to max_recipients_per_batch recipients of the message at
// the queue's front), and reports every outcome to the shard.
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_QUEUE_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_QUEUE_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "engine/bounce/bounce_class.h"
#include "engine/config/config.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/site_route.h"
#include "engine/delivery/smtp_connection.h"

namespace volley::delivery {

class DeliveryShard;

// All calls on the owning shard's loop thread.
class SiteQueue : public ConnectionOwner {
 public:
  SiteQueue(DeliveryShard* shard, std::string key);
  ~SiteQueue() override;

  // Recipients due now, bodies loaded, from a domain that resolved to this site; `route` is
  // that resolution (its hosts replace the ones known so far). Starts work at once: the
  // recipients of one message arrive together, so they go out in one transaction.
  void Add(std::shared_ptr<const SiteRoute> route, std::vector<RecipientPtr> recipients);

  // Expires the ready recipients past max_age (called now and then by the shard).
  void ExpireReady();

  // Quits idle connections, lets transactions in flight finish, and aborts what is still open
  // when `AbortConnections` is called.
  void BeginShutdown();
  void AbortConnections();
  bool Idle() const { return ready_.empty() && connections_.empty(); }

  const std::string& key() const { return key_; }
  size_t ready_count() const { return ready_.size(); }
  size_t connection_count() const { return connections_.size(); }
  size_t in_flight_count() const {
    size_t n = 0;
    for (const auto& [connection, batch] : in_flight_) n += batch.size();
    return n;
  }

  // ConnectionOwner:
  void OnConnectionReady(SmtpConnection* connection) override;
  void OnTransactionDone(SmtpConnection* connection,
                         std::vector<smtp::RecipientOutcome> outcomes) override;
  void OnConnectionClosed(SmtpConnection* connection, CloseInfo info) override;
  void OnTargetFailed(const ConnectTarget& target) override;
  void OnOpportunisticTlsFailed(const ConnectTarget& target) override;
  bool SkipTlsWith(const ConnectTarget& target) override;
  SSL_SESSION* TlsSessionFor(const ConnectTarget& target) override;
  void OnTlsSession(const ConnectTarget& target, bssl::UniquePtr<SSL_SESSION> session) override;
  void OnTlsHandshake(bool ok) override;

 private:
  // Recipients this far from the front of the queue do not keep their message body in memory.
  static constexpr size_t kBodyWindow = 1000;

  // Expires what is past max_age at the front; true when the front recipient can be sent (its
  // body is loaded).
  bool FrontReady();
  // Starts reading the bodies of the messages at the front.
  void EnsureBodies();
  void OnBodyLoaded(queue::MessageId id,
                    const absl::StatusOr<std::shared_ptr<const std::string>>& body);
  // Starts work on what is ready: transactions on idle connections, new connections within the
  // limits.
  void Pump();
  void StartConnection(std::vector<ConnectTarget> targets);
  void StartTransaction(SmtpConnection* connection);
  // Ends every ready recipient's attempt with the same reply: a bounce when `permanent`,
  // otherwise a transient failure (retried).
  void FailAllReady(const smtp::Reply& reply, bounce::BounceClass classification, bool permanent);
  // Transactions the ready recipients make, counted up to `cap`.
  size_t PendingTransactions(size_t cap) const;
  // The attempt description for log records about `connection` (null: no connection).
  AttemptInfo AttemptOf(const SmtpConnection* connection) const;

  const config::ShapingConfig& shaping() const { return *route_->shaping; }

  DeliveryShard* const shard_;
  const std::string key_;
  std::shared_ptr<const SiteRoute> route_;  // the latest resolution that sent recipients here
  std::deque<RecipientPtr> ready_;
  absl::flat_hash_set<queue::MessageId> loading_;  // bodies being read
  bool shutting_down_ = false;
  size_t next_source_ = 0;  // round-robin over the egress pool
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  absl::flat_hash_set<SmtpConnection*> connections_;
  absl::flat_hash_set<SmtpConnection*> connecting_;  // not yet ready
  std::vector<SmtpConnection*> idle_;
  absl::flat_hash_map<SmtpConnection*, std::vector<RecipientPtr>> in_flight_;
  // TLS sessions to resume, by host address (RFC 5077 / 8446 tickets).
  absl::flat_hash_map<std::string, bssl::UniquePtr<SSL_SESSION>> tls_sessions_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_QUEUE_H_
