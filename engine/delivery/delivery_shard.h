// The delivery half of a shard: it owns the recipient domains whose names hash to it and the
// sites whose keys hash to it (so a domain's recipients may be delivered from another shard
// than the one that resolved it), and the shard's one instance of each delivery service: the
// resolver, the retry schedule, the outcome recorder, host health, the TLS client contexts, the
// body loader and its part of the shared shaping budgets. A thin owner: the work is done by
// DomainQueue, SiteQueue and those services.
#ifndef VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_H_
#define VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "dns/resolver.h"
#include "engine/base/thread_checker.h"
#include "engine/delivery/body_loader.h"
#include "engine/delivery/context.h"
#include "engine/delivery/delivery_connection.h"
#include "engine/delivery/delivery_notices.h"
#include "engine/delivery/domain_queue.h"
#include "engine/delivery/host_health.h"
#include "engine/delivery/outcome_recorder.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/retry_policy.h"
#include "engine/delivery/scheduler.h"
#include "engine/delivery/shard_services.h"
#include "engine/delivery/site_queue.h"
#include "engine/delivery/site_route.h"
#include "engine/delivery/tls_client_cache.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/shard_router.h"
#include "engine/runtime/timer.h"
#include "engine/shaping/shared_limits.h"

namespace volley::delivery {

class DeliveryShard;
// Names the shard that owns a domain or a site, and posts work to its DeliveryShard.
using DeliveryRouter = ShardRouter<DeliveryShard>;

// Made, used and destroyed on the shard's loop thread; other threads reach it only through the
// router (Dispatch).
class DeliveryShard {
 public:
  // `shard` runs this object's loop; `router` names every shard's DeliveryShard; both outlive
  // it. `resolver` runs on this shard's loop.
  DeliveryShard(Shard* shard, const EngineContext& context, const DeliveryRouter* router,
                std::unique_ptr<dns::Resolver> resolver, ConnectionFactory connect);
  ~DeliveryShard();
  DeliveryShard(const DeliveryShard&) = delete;
  DeliveryShard& operator=(const DeliveryShard&) = delete;

  // Thread-safe: groups the recipients by the shard owning their domain and posts one batch to
  // each (any due time).
  static void Dispatch(const DeliveryRouter& router, std::vector<RecipientPtr> recipients);

  // Takes recipients of domains this shard owns, handed over by an injection, by the spool's
  // loader, or by a shard whose retry for them came due.
  void Enqueue(std::vector<RecipientPtr> recipients);
  // On the site's owner: the recipients join the site's queue.
  void AddToSite(std::shared_ptr<const SiteRoute> site, std::vector<RecipientPtr> recipients);

  // A reload (SIGHUP): from now on delivery follows `config`. Domains resolve their routes and
  // limits again, sites take their new limits for the next connection or transaction (open
  // connections stay), and ready recipients whose site the new config changed move to it.
  void Reconfigure(std::shared_ptr<const config::Config> config);

  // The engine's suspensions changed: sites hold back or release what they concern at once.
  void SetSuspensions(std::shared_ptr<const adaptive::SuspensionSet> suspensions);

  // Stops delivering: idle connections quit, transactions in flight get `grace` to finish,
  // then everything is closed. `done` runs on the loop thread once nothing is left in flight;
  // the shard may be destroyed after it returns, but not from inside it.
  void Shutdown(absl::Duration grace, absl::AnyInvocable<void()> done);

  // Adds what this shard holds (queued recipients by state, outbound connections, its resolver's
  // statistics) to a scrape.
  void Collect(metrics::ScrapeTotals* totals) const;

  // The site queues named `site` (as log records name sites) or keyed so, for the explain
  // read-out.
  void Explain(absl::string_view site, std::vector<SiteSnapshot>* found) const;

  int index() const { return shard_->index(); }

  // How this shard stores the delivery notices of the messages it owns (its Injector).
  void SetNoticeStore(StoreNotice store) { notices_.set_store(std::move(store)); }
  const DeliveryNotices& notices() const { return notices_; }

  // For unit tests: the retry schedule (RunDue after moving a simulated clock), and the sweep
  // that expires ready recipients and drops idle queues.
  Scheduler& scheduler_for_test() { return scheduler_; }
  void SweepForTest() { SweepIdleQueues(); }

 private:
  // The recipient is due: hand it to its domain's queue, or to the domain's owner.
  void MakeReady(RecipientPtr recipient);
  // Flushes the domains that got recipients since the last call, and sends recipients of
  // domains owned elsewhere to their shards.
  void FlushPumps();
  // For DomainQueue: hands resolved recipients to the site's owner (maybe this shard).
  void SendToSite(std::shared_ptr<const SiteRoute> site, std::vector<RecipientPtr> recipients);
  DomainQueue& Domain(const std::string& domain);
  SiteQueue& Site(const std::string& key);
  // Drops domain and site queues that have nothing to do, so that a shard that has sent to a
  // million domains does not keep a million queues, and expires what waits too long.
  void SweepIdleQueues();
  void MaybeFinishShutdown();
  // A recipient's notice goes to its message's owner shard (delivery_notices.h).
  void Notify(NoticeItem item);

  Shard* const shard_;
  const EngineContext context_;
  const DeliveryRouter* const router_;
  ThreadChecker thread_;
  std::unique_ptr<dns::Resolver> resolver_;
  absl::BitGen rng_;
  RetryPolicy retry_;
  Scheduler scheduler_;
  OutcomeRecorder recorder_;
  HostHealth hosts_;
  TlsClientCache tls_;
  BodyLoader bodies_;
  DeliveryNotices notices_;
  shaping::SharedLimits shared_limits_;      // outlives the sites, whose shapers lease from it
  metrics::ThrottleCounts throttled_total_;  // services_.throttled_total
  ShardServices services_;
  absl::flat_hash_map<std::string, std::unique_ptr<DomainQueue>> domains_;
  absl::flat_hash_map<std::string, std::unique_ptr<SiteQueue>> sites_;
  // Queues are deleted only by the sweep, never while these hold them.
  std::vector<DomainQueue*> to_flush_;
  std::vector<RecipientPtr> outbox_;  // due here, owned by other shards
  Timer sweep_timer_;
  Timer grace_timer_;
  bool shutting_down_ = false;
  bool resolver_closing_ = false;
  absl::AnyInvocable<void()> shutdown_done_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_H_
