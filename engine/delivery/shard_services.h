// What a shard's domain and site queues use from their shard: its loop, clock and config, and
// the shard's one instance of each delivery service. Filled in by DeliveryShard; queues hold a
// pointer to it for their whole life.
#ifndef VOLLEY_ENGINE_DELIVERY_SHARD_SERVICES_H_
#define VOLLEY_ENGINE_DELIVERY_SHARD_SERVICES_H_

#include <uv.h>

#include <functional>
#include <memory>
#include <vector>

#include "dns/resolver.h"
#include "engine/adaptive/response_rules.h"
#include "engine/adaptive/suspension.h"
#include "engine/adaptive/warmup_ledger.h"
#include "engine/base/clock.h"
#include "engine/bounce/verp.h"
#include "engine/config/config.h"
#include "engine/delivery/body_loader.h"
#include "engine/delivery/delivery_connection.h"
#include "engine/delivery/host_health.h"
#include "engine/delivery/outcome_recorder.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/site_route.h"
#include "engine/delivery/tls_client_cache.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/metrics/site_metrics.h"
#include "engine/shaping/shared_limits.h"

namespace volley::delivery {

// Everything here lives on the shard's loop thread and outlives the shard's queues.
struct ShardServices {
  uv_loop_t* loop = nullptr;
  int shard = 0;  // the shard's index, for its metric slots
  Clock* clock = nullptr;
  // The config delivery reads now: the one the engine started with, or the last one a reload
  // (SIGHUP) switched this shard to. Read it at each use; what keeps a pointer into it holds
  // this pointer too (SiteRoute::config).
  std::shared_ptr<const config::Config> config;
  OutcomeRecorder* recorder = nullptr;
  BodyLoader* bodies = nullptr;
  shaping::SharedLimits* shared_limits = nullptr;  // the shared budgets' leases on this shard
  HostHealth* hosts = nullptr;
  TlsClientCache* tls = nullptr;
  dns::Resolver* resolver = nullptr;
  metrics::EngineMetrics* metrics = nullptr;
  // The suspensions in force (never null): the latest set the engine's store published.
  std::shared_ptr<const adaptive::SuspensionSet> suspensions;
  // The response rules of `config` (never null).
  std::shared_ptr<const adaptive::ResponseRules> rules;
  // Hands a response rule's suspension to the engine's store (null: rules suspend nothing, in
  // unit tests).
  std::function<void(adaptive::Suspension)> suspend;
  // The IP warm-up ledger whose caps hold back warming sources (null: none do, in unit tests
  // that do not warm up). Thread-safe.
  adaptive::WarmupLedger* warmup = nullptr;
  // [bounce] verp_domain's codec for return paths (null: VERP off).
  const bounce::VerpCodec* verp = nullptr;
  // Messages delayed by each limit at this shard's sites since start (site queues come and go).
  metrics::ThrottleCounts* throttled_total = nullptr;
  ConnectionFactory connect;
  // Hands recipients resolved to `site` to the shard that owns the site (maybe this one).
  std::function<void(std::shared_ptr<const SiteRoute> site, std::vector<RecipientPtr>)>
      send_to_site;
  // Hands recipients back to their domains' queues (on their shards), to be resolved again: a
  // reload gave them another site.
  std::function<void(std::vector<RecipientPtr>)> send_to_domains;
  // A site has no connection left (the shard may be done shutting down).
  std::function<void()> on_site_idle;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SHARD_SERVICES_H_
