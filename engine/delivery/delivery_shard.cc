#include "engine/delivery/delivery_shard.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "engine/base/logging.h"

namespace volley::delivery {
namespace {

constexpr absl::Duration kSweepInterval = absl::Minutes(1);

}  // namespace

DeliveryShard::DeliveryShard(Shard* shard, const EngineContext& context,
                             const DeliveryRouter* router, std::unique_ptr<dns::Resolver> resolver,
                             ConnectionFactory connect)
    : shard_(shard),
      context_(context),
      router_(router),
      resolver_(std::move(resolver)),
      retry_(context.config->delivery, rng_),
      scheduler_(shard->loop(), *context.clock,
                 [this](std::vector<RecipientPtr> due) {
                   for (RecipientPtr& r : due) MakeReady(std::move(r));
                   FlushPumps();
                 }),
      recorder_(OutcomeRecorder::Options{
          .events = context.events,
          .writer = context.writer,
          .clock = context.clock,
          .retry = &retry_,
          .bounce_rules = context.config->bounce.rules.get(),
          .suppress = context.suppress,
          .suppress_classes = context.config->bounce.suppress_classes,
          .suppress_for = context.config->bounce.suppress_for,
          .memory_horizon = context.memory_horizon,
          .keep = [this](RecipientPtr r) { scheduler_.Add(std::move(r)); },
          .notices = {.enabled = context.config->delivery.dsn,
                      .delay_after = context.config->delivery.delay_dsn_after},
          .notify = [this](NoticeItem item) { Notify(std::move(item)); },
      }),
      hosts_(*context.clock),
      bodies_(context.spool, context.io_pool,
              [shard](Task task) { return shard->Post(std::move(task)); }),
      notices_(DeliveryNotices::Options{
          .loop = shard->loop(),
          .spool = context.spool,
          .io_pool = context.io_pool,
          .post = [shard](Task task) { return shard->Post(std::move(task)); },
          .hostname = context.config->server.hostname,
          .max_age = context.config->delivery.max_age,
          .window = context.notice_window,
      }),
      shared_limits_(shard->loop(), shard->index(), static_cast<int>(router->size()), context.clock,
                     [router](int index, absl::AnyInvocable<void(shaping::SharedLimits&) &&> task) {
                       router->Post(index, [task = std::move(task)](DeliveryShard& owner) mutable {
                         std::move(task)(owner.shared_limits_);
                       });
                     }),
      sweep_timer_(shard->loop(), [this] { SweepIdleQueues(); }),
      grace_timer_(shard->loop(), [this] {
        for (auto& [key, site] : sites_) site->AbortConnections();
      }) {
  DCHECK(shard_->InLoopThread());
  services_.loop = shard->loop();
  services_.shard = shard->index();
  services_.clock = context.clock;
  // Not owned: the engine's config outlives the shards (reloaded ones are shared).
  services_.config = std::shared_ptr<const config::Config>(std::shared_ptr<void>(), context.config);
  services_.recorder = &recorder_;
  services_.bodies = &bodies_;
  services_.shared_limits = &shared_limits_;
  services_.hosts = &hosts_;
  services_.tls = &tls_;
  services_.resolver = resolver_.get();
  services_.metrics = context.metrics;
  services_.throttled_total = &throttled_total_;
  services_.suspensions = std::make_shared<const adaptive::SuspensionSet>();
  services_.rules = std::make_shared<const adaptive::ResponseRules>(context.config->shaping);
  services_.suspend = context.suspend;
  services_.warmup = context.warmup;
  services_.verp = context.verp;
  services_.connect = std::move(connect);
  services_.send_to_site = [this](std::shared_ptr<const SiteRoute> site,
                                  std::vector<RecipientPtr> recipients) {
    SendToSite(std::move(site), std::move(recipients));
  };
  services_.send_to_domains = [this](std::vector<RecipientPtr> recipients) {
    Dispatch(*router_, std::move(recipients));
  };
  services_.on_site_idle = [this] { MaybeFinishShutdown(); };
  notices_.set_on_settled([this] { MaybeFinishShutdown(); });
  bodies_.set_after_load([this] { MaybeFinishShutdown(); });
  sweep_timer_.StartRepeating(kSweepInterval);
  // The sweep alone must not keep the loop alive.
  sweep_timer_.Unref();
}

DeliveryShard::~DeliveryShard() { DCHECK(thread_.InLoopThread()); }

void DeliveryShard::Dispatch(const DeliveryRouter& router, std::vector<RecipientPtr> recipients) {
  if (router.size() == 1) {
    router.Post(0, [batch = std::move(recipients)](DeliveryShard& shard) mutable {
      shard.Enqueue(std::move(batch));
    });
    return;
  }
  std::vector<std::vector<RecipientPtr>> batches(router.size());
  for (RecipientPtr& r : recipients) batches[router.OwnerOf(r->domain)].push_back(std::move(r));
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i].empty()) continue;
    router.Post(i, [batch = std::move(batches[i])](DeliveryShard& shard) mutable {
      shard.Enqueue(std::move(batch));
    });
  }
}

void DeliveryShard::Collect(metrics::ScrapeTotals* totals) const {
  DCHECK(thread_.InLoopThread());
  int64_t ready = 0;
  int64_t in_flight = 0;
  int64_t connections = 0;
  metrics::SiteScrape& by_site = totals->sites;
  for (const auto& [name, domain] : domains_) {
    ready += static_cast<int64_t>(domain->pending_count());
    for (const RecipientPtr& r : domain->pending()) {
      ++by_site.tenants[{r->message->tenant, r->message->campaign}].ready;
    }
  }
  for (const auto& [key, site] : sites_) {
    ready += static_cast<int64_t>(site->ready_count());
    in_flight += static_cast<int64_t>(site->in_flight_count());
    connections += static_cast<int64_t>(site->connection_count());
    site->Collect(&by_site.sites[site->name()], &by_site);
  }
  for (const auto& [limit, n] : throttled_total_) by_site.throttled_total[limit] += n;
  totals->queue[static_cast<size_t>(metrics::QueueState::kScheduled)] +=
      static_cast<int64_t>(scheduler_.size());
  totals->queue[static_cast<size_t>(metrics::QueueState::kReady)] += ready;
  totals->queue[static_cast<size_t>(metrics::QueueState::kInFlight)] += in_flight;
  totals->connections[static_cast<size_t>(metrics::Direction::kOutbound)] += connections;
  totals->AddDns(resolver_->stats());
}

void DeliveryShard::Explain(absl::string_view site, std::vector<SiteSnapshot>* found) const {
  DCHECK(thread_.InLoopThread());
  for (const auto& [key, queue] : sites_) {
    if (key == site || queue->name() == site) found->push_back(queue->Snapshot());
  }
}

void DeliveryShard::Enqueue(std::vector<RecipientPtr> recipients) {
  DCHECK(thread_.InLoopThread());
  if (shutting_down_) return;  // still in the spool; the next start delivers them
  const absl::Time now = context_.clock->Now();
  for (RecipientPtr& r : recipients) {
    if (r->due <= now) {
      MakeReady(std::move(r));
    } else {
      scheduler_.Add(std::move(r));
    }
  }
  FlushPumps();
}

void DeliveryShard::MakeReady(RecipientPtr recipient) {
  if (router_->OwnerOf(recipient->domain) != static_cast<size_t>(index())) {
    // A retry that came due here for a domain another shard resolves.
    outbox_.push_back(std::move(recipient));
    return;
  }
  if (recorder_.ExpireIfDue(recipient)) return;
  // The body is read only when a connection is about to send it (SiteQueue), so recipients
  // waiting in ready queues cost little memory.
  const std::string domain = recipient->domain;
  DomainQueue& queue = Domain(domain);
  queue.Add(std::move(recipient));
  if (std::find(to_flush_.begin(), to_flush_.end(), &queue) == to_flush_.end()) {
    to_flush_.push_back(&queue);
  }
}

void DeliveryShard::FlushPumps() {
  std::vector<DomainQueue*> domains;
  domains.swap(to_flush_);
  for (DomainQueue* domain : domains) domain->Flush();
  if (!outbox_.empty()) {
    std::vector<RecipientPtr> outbox;
    outbox.swap(outbox_);
    Dispatch(*router_, std::move(outbox));
  }
}

void DeliveryShard::SendToSite(std::shared_ptr<const SiteRoute> site,
                               std::vector<RecipientPtr> recipients) {
  const size_t owner = router_->OwnerOf(site->key);
  if (owner == static_cast<size_t>(index())) {
    AddToSite(std::move(site), std::move(recipients));
    return;
  }
  // When the owner is shutting down they stay in the spool for the next start.
  router_->Post(owner, [site = std::move(site),
                        recipients = std::move(recipients)](DeliveryShard& shard) mutable {
    shard.AddToSite(std::move(site), std::move(recipients));
  });
}

void DeliveryShard::AddToSite(std::shared_ptr<const SiteRoute> site,
                              std::vector<RecipientPtr> recipients) {
  DCHECK(thread_.InLoopThread());
  if (shutting_down_) return;
  if (site->config != services_.config) {
    // Resolved before this shard's reload: the domains resolve again under the new config
    // (their shards have the reload queued before these recipients, or have done it).
    Dispatch(*router_, std::move(recipients));
    return;
  }
  const std::string& key = site->key;
  Site(key).Add(std::move(site), std::move(recipients));
}

DomainQueue& DeliveryShard::Domain(const std::string& domain) {
  auto it = domains_.find(domain);
  if (it == domains_.end()) {
    it = domains_.emplace(domain, std::make_unique<DomainQueue>(&services_, domain)).first;
  }
  return *it->second;
}

SiteQueue& DeliveryShard::Site(const std::string& key) {
  auto it = sites_.find(key);
  if (it == sites_.end()) {
    it = sites_.emplace(key, std::make_unique<SiteQueue>(&services_, key)).first;
  }
  return *it->second;
}

void DeliveryShard::SweepIdleQueues() {
  // Runs from its own timer (or a test), never while a queue is on the stack or in to_flush_.
  for (auto& [key, site] : sites_) site->ExpireReady();
  absl::erase_if(domains_, [](const auto& entry) { return entry.second->Idle(); });
  absl::erase_if(sites_, [](const auto& entry) { return entry.second->Idle(); });
}

void DeliveryShard::Reconfigure(std::shared_ptr<const config::Config> config) {
  DCHECK(thread_.InLoopThread());
  services_.config = std::move(config);
  services_.rules = std::make_shared<const adaptive::ResponseRules>(services_.config->shaping);
  for (auto& [name, domain] : domains_) domain->Reconfigure();
  for (auto& [key, site] : sites_) site->Reconfigure();
}

void DeliveryShard::SetSuspensions(std::shared_ptr<const adaptive::SuspensionSet> suspensions) {
  DCHECK(thread_.InLoopThread());
  services_.suspensions = std::move(suspensions);
  for (auto& [key, site] : sites_) site->ApplySuspensions();
}

void DeliveryShard::Shutdown(absl::Duration grace, absl::AnyInvocable<void()> done) {
  DCHECK(thread_.InLoopThread());
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  // Scheduled and waiting recipients are in the spool already; drop the in-memory copies.
  scheduler_.Clear();
  sweep_timer_.Stop();
  for (auto& [domain, queue] : domains_) queue->BeginShutdown();
  for (auto& [key, site] : sites_) site->BeginShutdown();
  outbox_.clear();
  notices_.FlushNow();
  grace_timer_.Start(std::max(absl::Milliseconds(1), grace));
  MaybeFinishShutdown();
}

void DeliveryShard::Notify(NoticeItem item) {
  const size_t owner = item.message->id % router_->size();
  if (owner == static_cast<size_t>(index())) {
    notices_.Add(std::move(item));
    return;
  }
  // (A failed post: the owner has stopped; the recipient is still in the spool.)
  router_->Post(owner, [item = std::move(item)](DeliveryShard& shard) mutable {
    shard.notices_.Add(std::move(item));
  });
}

void DeliveryShard::MaybeFinishShutdown() {
  if (!shutting_down_ || !shutdown_done_ || bodies_.in_flight() > 0 || notices_.pending() > 0) {
    return;
  }
  for (const auto& [key, site] : sites_) {
    if (site->connection_count() > 0) return;
  }
  if (resolver_closing_) return;
  resolver_closing_ = true;
  grace_timer_.Stop();
  resolver_->Shutdown([this] {
    absl::AnyInvocable<void()> done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  });
}

}  // namespace volley::delivery
