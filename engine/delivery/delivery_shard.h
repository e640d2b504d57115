// The delivery half of a shard: the recipient domains and the sites it owns (a domain is owned
// by the shard its name hashes to, a site by the shard its key hashes to, so a domain's
// recipients may be delivered from another shard than the one that resolved it), the retry
// schedule of what it delivered, its DNS resolver, and where every outcome is applied (log,
// spool, metrics).
#ifndef VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_H_
#define VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_H_

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "dns/mx_resolver.h"
#include "engine/bounce/bounce_class.h"
#include "engine/delivery/context.h"
#include "engine/delivery/domain_queue.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/site_queue.h"
#include "engine/delivery/site_route.h"
#include "engine/delivery/smtp_connection.h"
#include "engine/events/event.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/runtime/shard.h"
#include "engine/smtp/client_session.h"
#include "tls/tls_context.h"

namespace volley::delivery {

// Everything but Post-ed entry points runs on the shard's loop thread.
class DeliveryShard {
 public:
  DeliveryShard(Shard* shard, const EngineContext& context);
  ~DeliveryShard();

  // On the loop thread, before any Enqueue.
  absl::Status Init();

  // The shards' router; set before any Enqueue.
  void set_dispatcher(const class Dispatcher* dispatcher) { dispatcher_ = dispatcher; }

  // Takes recipients of domains this shard owns, handed over by an injection, by recovery, or
  // by a shard whose retry for them came due (any due time).
  void Enqueue(std::vector<RecipientPtr> recipients);

  // For DomainQueue: hands resolved recipients to the site's owner (maybe this shard).
  void SendToSite(std::shared_ptr<const SiteRoute> site, std::vector<RecipientPtr> recipients);
  // On the site's owner: the recipients join the site's queue.
  void AddToSite(std::shared_ptr<const SiteRoute> site, std::vector<RecipientPtr> recipients);

  // Stops delivering: idle connections quit, transactions in flight get `grace` to finish,
  // then everything is closed. `done` runs on the loop thread when every handle is closed.
  void Shutdown(absl::Duration grace, absl::AnyInvocable<void()> done);

  using Attempt = AttemptInfo;
  void RecordOutcome(RecipientPtr recipient, const smtp::RecipientOutcome& outcome,
                     const Attempt& attempt);
  // A permanent failure decided locally (DNS, a greeting refused by every host), classified.
  void Bounce(RecipientPtr recipient, const smtp::Reply& reply, bounce::BounceClass classification,
              const Attempt& attempt);
  // `remote_reply`: the reply came from the server (not made up here).
  void TransientFailure(RecipientPtr recipient, const smtp::Reply& reply,
                        std::optional<std::string> command, const Attempt& attempt,
                        bounce::BounceClass classification, bool remote_reply = false);
  // The message is past max_age: an Expiration record, then a MessageExpired bounce.
  void Expire(RecipientPtr recipient, const smtp::Reply& reply, std::optional<std::string> command,
              const Attempt& attempt, bool remote_reply);
  // Expires the recipient (and returns true) when it is past max_age.
  bool ExpireIfDue(RecipientPtr& recipient);

  // Reads a message's body from the spool off the loop; concurrent requests for one message
  // share one read. The callback runs on this shard's loop.
  using BodyCallback =
      absl::AnyInvocable<void(const absl::StatusOr<std::shared_ptr<const std::string>>&)>;
  void LoadBody(queue::MessageId id, BodyCallback callback);

  // Hosts that failed (connection refused or timed out, greeting or TLS refused) are skipped
  // for kHostRetryDelay; hosts whose opportunistic TLS failed get plaintext for kNoTlsDelay.
  static constexpr absl::Duration kHostRetryDelay = absl::Seconds(30);
  static constexpr absl::Duration kNoTlsDelay = absl::Minutes(30);
  bool HostRecentlyFailed(const ConnectTarget& target);
  void MarkHostFailed(const ConnectTarget& target);
  bool TlsRecentlyFailed(const ConnectTarget& target);
  void MarkTlsFailed(const ConnectTarget& target);
  // A client TLS context per trust-anchor file ("" = the system bundle), made on first use.
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> TlsContextFor(const std::string& ca_file);

  uv_loop_t* loop() { return shard_->loop(); }
  Shard* shard() { return shard_; }
  dns::MxResolver& resolver() { return *resolver_; }
  const EngineContext& context() const { return context_; }
  // Counters this shard bumps itself (the rest follow from its events).
  void CountConnectionOpened(bool ok) { context_.metrics->connections_opened(ok).Add(index()); }
  void CountTlsHandshake(bool ok) { context_.metrics->tls_handshakes(ok).Add(index()); }
  // Adds what this shard holds (queued recipients by state, outbound connections, its resolver's
  // statistics) to a scrape.
  void Collect(metrics::ScrapeTotals* totals) const;
  int index() const { return shard_->index(); }
  bool shutting_down() const { return shutting_down_; }
  void OnSiteIdle(SiteQueue* site);

 private:
  struct Scheduled {
    absl::Time due;
    uint64_t sequence;
    RecipientPtr recipient;
  };
  struct LaterFirst {
    bool operator()(const Scheduled& a, const Scheduled& b) const {
      return a.due != b.due ? a.due > b.due : a.sequence > b.sequence;
    }
  };

  void Schedule(RecipientPtr recipient);
  void ArmScheduleTimer();
  void OnScheduleTimer();
  // The recipient is due: load its body if needed, then hand it to its destination.
  void MakeReady(RecipientPtr recipient);
  // Flushes the domains that got recipients since the last call, and sends recipients of
  // domains owned elsewhere to their shards.
  void FlushPumps();
  bool OwnsDomain(absl::string_view domain) const;
  void OnBodyLoaded(queue::MessageId id, absl::StatusOr<std::string> body);
  DomainQueue& Domain(const std::string& domain);
  SiteQueue& Site(const std::string& key);
  // One event for the recipient, to the shard's subscribers (the delivery log, the metrics).
  void Emit(events::EventType type, const QueuedRecipient& r, const smtp::Reply& reply,
            bool remote_reply, const std::optional<std::string>& command, const Attempt& attempt,
            std::optional<bounce::BounceClass> classification, bool expired = false);
  void MaybeFinishShutdown();

  Shard* const shard_;
  EngineContext context_;
  events::EventSink* const events_;  // this shard's subscribers
  std::unique_ptr<dns::MxResolver> resolver_;
  const class Dispatcher* dispatcher_ = nullptr;
  absl::flat_hash_map<std::string, std::unique_ptr<DomainQueue>> domains_;
  absl::flat_hash_map<std::string, std::unique_ptr<SiteQueue>> sites_;
  // Queues are deleted only by the sweep timer, never while these hold them.
  std::vector<DomainQueue*> to_flush_;
  std::vector<RecipientPtr> outbox_;  // due here, owned by other shards

  std::vector<Scheduled> schedule_;  // a min-heap by due time
  uint64_t sequence_ = 0;
  uv_timer_t* schedule_timer_ = nullptr;
  // Drops domain and site queues that have nothing to do, so that a shard that has sent to a
  // million domains does not keep a million queues.
  uv_timer_t* sweep_timer_ = nullptr;
  void SweepIdleQueues();
  absl::Time timer_due_ = absl::InfiniteFuture();

  // Callbacks waiting for a message body being read, by message.
  absl::flat_hash_map<queue::MessageId, std::vector<BodyCallback>> body_waiters_;
  int body_loads_in_flight_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  absl::BitGen rng_;
  absl::flat_hash_map<std::string, absl::Time> failed_hosts_;  // "address:port" -> skip until
  absl::flat_hash_map<std::string, absl::Time> no_tls_hosts_;  // "address:port" -> until
  absl::flat_hash_map<std::string, std::shared_ptr<tls::TlsContext>> tls_contexts_;
  bool shutting_down_ = false;
  bool resolver_closed_ = false;
  bool timer_closed_ = false;
  uv_timer_t* grace_timer_ = nullptr;
  absl::AnyInvocable<void()> shutdown_done_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_H_
