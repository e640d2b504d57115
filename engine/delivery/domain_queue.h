// One recipient domain on the shard that owns it: resolves the domain (MX, or its [routes]
// smarthost), bounces or defers its recipients when resolution says so, and otherwise hands
// them to the site they resolved to, which may live on another shard.
#ifndef VOLLEY_ENGINE_DELIVERY_DOMAIN_QUEUE_H_
#define VOLLEY_ENGINE_DELIVERY_DOMAIN_QUEUE_H_

#include <memory>
#include <string>
#include <vector>

#include "dns/resolver.h"
#include "engine/base/liveness.h"
#include "engine/base/thread_checker.h"
#include "engine/bounce/bounce_class.h"
#include "engine/config/config.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/shard_services.h"
#include "engine/delivery/site_route.h"

namespace volley::delivery {

// All calls on the owning shard's loop thread.
class DomainQueue {
 public:
  DomainQueue(const ShardServices* services, std::string domain);
  ~DomainQueue();

  // A recipient that is due now, its body loaded. Flush() after adding what arrived together.
  void Add(RecipientPtr recipient);
  // Resolves when needed, then passes the pending recipients on.
  void Flush();
  // The shard switched to a reloaded config: the domain's route and site are looked up again.
  void Reconfigure();
  // Drops what waits here (it stays in the spool).
  void BeginShutdown();

  bool Idle() const { return pending_.empty() && !resolving_; }
  size_t pending_count() const { return pending_.size(); }
  const std::vector<RecipientPtr>& pending() const { return pending_; }
  const std::string& domain() const { return domain_; }

 private:
  void Resolve();
  void OnResolved(const dns::MxResult& result);
  // Ends every pending recipient with `reply` (bounce when permanent).
  void FailPending(const smtp::Reply& reply, bounce::BounceClass classification, bool permanent);

  const ShardServices* const services_;
  ThreadChecker thread_;
  const std::string domain_;
  const config::Route* route_;  // in services_->config: what Resolve looks up
  std::vector<RecipientPtr> pending_;
  std::shared_ptr<const SiteRoute> site_;  // from the last successful resolution
  bool resolving_ = false;
  int generation_ = 0;  // counts reconfigurations: an answer asked for before one is stale
  Liveness liveness_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_DOMAIN_QUEUE_H_
