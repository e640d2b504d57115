// The ready queue of one site (a set of MX hosts, or a smarthost route) on the shard that owns
// it. Every domain that resolves to the site shares this queue, its connections and its limits
// (RFC 5321 does not care which recipient domain a transaction is for, and a receiving site
// judges us by the connections we open to it). Asks the site's Shaper before it opens a
// connection or starts a transaction, hands each ready connection the next transaction (up to
// max_recipients_per_batch recipients of the message at the queue's front), and gives every
// outcome to the shard's OutcomeRecorder.
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_QUEUE_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_QUEUE_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/adaptive/suspension.h"
#include "engine/base/liveness.h"
#include "engine/base/thread_checker.h"
#include "engine/bounce/bounce_class.h"
#include "engine/delivery/connection_pool.h"
#include "engine/delivery/path_control.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/ready_queue.h"
#include "engine/delivery/shard_services.h"
#include "engine/delivery/site_automation.h"
#include "engine/delivery/site_explain.h"
#include "engine/delivery/site_feedback.h"
#include "engine/delivery/site_route.h"
#include "engine/delivery/site_warmup.h"
#include "engine/delivery/suspension_hold.h"
#include "engine/metrics/site_metrics.h"
#include "engine/runtime/timer.h"
#include "engine/shaping/shaper.h"

namespace volley::delivery {

// All calls on the owning shard's loop.
class SiteQueue final : public ConnectionPool::Listener {
 public:
  SiteQueue(const ShardServices* services, std::string key);
  ~SiteQueue() override;

  // Recipients due now from a domain that resolved to this site; `route` is that resolution
  // (its hosts and limits replace the ones known so far). Starts work at once: the recipients
  // of one message arrive together, so they go out in one transaction.
  void Add(std::shared_ptr<const SiteRoute> route, std::vector<RecipientPtr> recipients);

  // The shard switched to a reloaded config: the site takes its new limits (the next connection
  // and transaction obey them; connections a smaller pool or limit leaves over quit when idle),
  // and the ready recipients whose domain the new config sends elsewhere go back to their
  // domains.
  void Reconfigure();

  // Expires the ready recipients past max_age, and those a suspension holds (called now and then
  // by the shard).
  void ExpireReady();

  // Follows the shard's suspensions (ShardServices::suspensions) now: recipients a suspension
  // holds wait aside (no attempt, no record), those whose suspension ended go back into line,
  // suspended sources open nothing more and their idle connections quit. Runs by itself when a
  // suspension that concerns the site ends.
  void ApplySuspensions();

  // Quits idle connections, lets transactions in flight finish, and aborts what is still open
  // when AbortConnections is called. Ready recipients are dropped: they are in the spool.
  void BeginShutdown();
  void AbortConnections();
  bool Idle() const { return ready_.empty() && hold_.held().empty() && pool_.size() == 0; }

  const std::string& key() const { return key_; }
  // Ready recipients, those a suspension holds among them.
  size_t ready_count() const { return ready_.size() + hold_.held().size(); }
  size_t in_flight_count() const { return pool_.in_flight_recipients(); }
  size_t connection_count() const { return pool_.size(); }
  // The site as log records and metrics name it.
  const std::string& name() const { return route_ != nullptr ? route_->name : key_; }
  // Adds what the site holds now to a scrape: its queue sizes, connections, the messages that
  // waited for each limit and the limit that holds it back now; and its recipients by tenant
  // and campaign.
  void Collect(metrics::SiteTotals* site, metrics::SiteScrape* scrape) const;
  // Its state now, for the explain read-out.
  SiteSnapshot Snapshot() const;

  // ConnectionPool::Listener:
  void OnReady(DeliveryConnection* connection) override;
  void OnDone(DeliveryConnection* connection, std::vector<RecipientPtr> batch,
              std::vector<smtp::RecipientOutcome> outcomes) override;
  void OnClosed(DeliveryConnection* connection, bool never_ready, std::vector<RecipientPtr> batch,
                ConnectionOwner::CloseInfo info) override;
  void OnHostBusy(const ConnectTarget& target, int working) override;

 private:
  // Recipients this far from the front of their lane do not keep their message body in memory.
  static constexpr size_t kBodyWindow = 1000;

  // A limit said "not yet" to the message at the front: it is counted as delayed by that limit
  // (once per message), and the site is held back by it until a transaction starts.
  void NoteHeldBack(const shaping::Admission& admission);
  void ApplySuspensionsAt(absl::Time now);
  adaptive::SiteName site_name() const { return adaptive::SiteName{name(), key_}; }
  // True when nothing but held mail waits: connections then do not stay open for it.
  bool OnlyHeld() const { return ready_.empty() && !hold_.held().empty(); }
  // Response rules (site_queue_automation.cc). A remote reply that is not a success, about
  // `message` to `domain` (null message: about no mail, e.g. a greeting), on `connection`:
  // the rules it fires act now.
  void ConsiderReply(const smtp::Reply& reply, const DeliveryConnection& connection,
                     const MessageInfo* message, absl::string_view domain);
  // The site's effective limits: the route's with the rules' overrides, under path control;
  // the shaper follows.
  void RecomputeLimits();
  // Path control's signals: a transaction's outcomes (success and its latency, or a 421 or a
  // 4.7.x deferral), and a connection that ended (refused while others work, or with a 421).
  void ControlAfterTransaction(const DeliveryConnection& connection,
                               const std::vector<smtp::RecipientOutcome>& outcomes);
  void ControlAfterClose(const DeliveryConnection& connection, bool never_ready, bool ended_at_mail,
                         const ConnectionOwner::CloseInfo& info);
  // Ends overrides and bounce windows that are over.
  void ExpireAutomation(absl::Time now);
  // A Bounce rule's window: what waits (ready or held) bounces with its reply; true when the
  // window is open now.
  bool BounceWaiting(absl::Time now);
  // Takes the site's latest resolution: its hosts and limits.
  void UseRoute(std::shared_ptr<const SiteRoute> route);
  // False for a connection that the site's route no longer has a place for: from a source the
  // pool lost, or to a host the route (or the domain's MX set) no longer lists.
  bool Current(const DeliveryConnection& connection) const;
  // Expires what is past max_age at the front; true when the front recipient can be sent (its
  // body is loaded).
  bool FrontReady();
  // The messages served next whose bodies are read ahead: two per connection the site may have.
  size_t ReadAheadMessages() const { return 2 * static_cast<size_t>(shaper_.connection_limit()); }
  // Starts reading the bodies of the messages served next.
  void EnsureBodies();
  void OnBodyLoaded(queue::MessageId id, const BodyLoader::Body& body);
  // Starts work on what is ready: transactions on idle connections, new connections within the
  // limits.
  void Pump();
  void OpenConnections(absl::Time now);
  // Starts the front transaction on `connection` if the message rate allows it now; otherwise
  // keeps the connection idle, wakes the site when the rate allows, and returns false. A
  // source whose warm-up cap is full quits the connection instead (it may wait an hour), and
  // true says the other idle connections may still take the message.
  bool SendOrWait(DeliveryConnection* connection, absl::Time now);
  // Runs Pump at `when` (or earlier, if an earlier wake is set already).
  void WakeAt(absl::Time when, absl::Time now);
  void StartTransaction(DeliveryConnection* connection);
  // What decides a carried recipient's fate when its connection closed.
  smtp::RecipientOutcome OutcomeAfterClose(size_t i, const ConnectionOwner::CloseInfo& info) const;
  // The site failed before any session: every ready recipient gets the reason.
  void OnNoSession(const ConnectionOwner::CloseInfo& info);
  // Ends every ready recipient's attempt with the same reply: a bounce when `permanent`,
  // otherwise a transient failure (retried).
  void FailAllReady(const smtp::Reply& reply, bounce::BounceClass classification, bool permanent);
  // Transactions the ready recipients make, counted up to `cap`.
  size_t PendingTransactions(size_t cap) const;
  // The route's hosts a new connection may go to now: not failed just now, and below what they
  // told us they take. `*retry_at` gets when the first failed one may be tried again, `*room`
  // how many more connections the capped hosts take.
  std::vector<ConnectTarget> UsableTargets(absl::Time now, absl::Time* retry_at, int* room) const;
  // A connection the server ended with 421 at MAIL: its recipients go back to the front of the
  // queue, untried, and the site learns the messages a connection may carry. False otherwise.
  bool EndedAtMail(DeliveryConnection* connection, std::vector<RecipientPtr>& batch,
                   const ConnectionOwner::CloseInfo& info);
  // The attempt description for log records about `connection` (null: no connection).
  AttemptInfo AttemptOf(const DeliveryConnection* connection) const;

  const ShardServices* const services_;
  const std::string key_;
  ThreadChecker thread_;
  std::shared_ptr<const SiteRoute> route_;  // the latest resolution that sent recipients here
  shaping::Shaper shaper_;                  // limits from route_
  SiteFeedback feedback_;                   // what the site told us by refusing
  bool check_targets_ = false;  // route_'s hosts changed since the first: Current compares
  bool check_sources_ = false;  // and its egress pool
  ConnectionPool pool_;
  ReadyQueue ready_;
  SuspensionHold hold_;        // what suspensions hold back
  SiteAutomation automation_;  // what response rules made of the site's replies
  PathControl control_;        // AIMD per egress source
  SiteWarmup warmup_;          // the warming sources' caps
  absl::flat_hash_map<const DeliveryConnection*, absl::Time> started_;  // transactions' starts
  // The limits the shaper follows: route_'s per source, with the rules' overrides.
  std::vector<config::ShapingConfig> effective_;
  Timer wake_;  // a rate said "not before": Pump then
  absl::Time wake_at_ = absl::InfiniteFuture();
  absl::flat_hash_set<queue::MessageId> loading_;  // bodies being read
  bool shutting_down_ = false;
  // Observability: messages delayed by each limit, the limit that holds the site back now ("":
  // none), the last message counted as delayed.
  metrics::ThrottleCounts throttled_;
  std::string held_by_;
  absl::Time held_until_ = absl::InfiniteFuture();
  queue::MessageId last_delayed_ = 0;
  Liveness liveness_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_QUEUE_H_
