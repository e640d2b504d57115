// The process-wide services a shard's delivery and injection code use. Everything here is
// thread-safe or immutable after start-up.
#ifndef VOLLEY_ENGINE_DELIVERY_CONTEXT_H_
#define VOLLEY_ENGINE_DELIVERY_CONTEXT_H_

#include <functional>

#include "engine/adaptive/suspension.h"
#include "engine/adaptive/warmup_ledger.h"
#include "engine/base/clock.h"
#include "engine/bounce/list_unsubscribe.h"
#include "engine/bounce/suppression_list.h"
#include "engine/bounce/verp.h"
#include "engine/config/config.h"
#include "engine/events/event.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/runtime/worker_pool.h"
#include "queue/disk_space.h"
#include "queue/spool.h"
#include "queue/spool_writer.h"

namespace volley::delivery {

struct EngineContext {
  const config::Config* config = nullptr;
  queue::Spool* spool = nullptr;
  queue::SpoolWriter* writer = nullptr;
  // The subscribers of the events emitted on this shard (delivery log, metrics); each shard has
  // its own context with its own sink.
  events::EventSink* events = nullptr;
  metrics::EngineMetrics* metrics = nullptr;
  Clock* clock = nullptr;
  WorkerPool* io_pool = nullptr;  // blocking spool reads
  // Free space on the spool's disk; injection refuses while it is low. May be null.
  const queue::DiskSpaceMonitor* disk_space = nullptr;
  // Recipients whose retry is due within this stay in memory; later ones are let go and read
  // back from the spool by the writer's loader (LoaderOptions::horizon).
  absl::Duration memory_horizon = absl::Minutes(1);
  // How long a message's delivery notices wait for its other recipients (delivery_notices.h).
  absl::Duration notice_window = absl::Seconds(2);
  // Stores a response rule's suspension (the engine's SuspensionStore, off the loops); null in
  // unit tests. Thread-safe.
  std::function<void(adaptive::Suspension)> suspend;
  // The IP warm-up ledger (null: no source is held back by a warm-up cap). Thread-safe.
  adaptive::WarmupLedger* warmup = nullptr;
  // The suppression list injection consults (null: none is). Thread-safe; it blocks.
  bounce::SuppressionList* suppressions = nullptr;
  // Adds a hard bounce's entry to the list, off the loops (null: bounces suppress nothing, in
  // unit tests). Thread-safe.
  std::function<void(bounce::SuppressionEntry)> suppress;
  // [bounce] verp_domain's codec: return paths per recipient, and mail to that domain taken in
  // as reports (null: VERP off).
  const bounce::VerpCodec* verp = nullptr;
  // [unsubscribe]: the List-Unsubscribe fields the injector adds to bulk mail (null: off).
  const bounce::ListUnsubscribe* unsubscribe = nullptr;

  // True while injection answers 452 4.3.1: the spool's disk is below [server] spool_min_free,
  // or a spool write failed and the writer's probes have not yet seen one succeed.
  bool SpoolRefusesInjection() const {
    return (disk_space != nullptr && disk_space->low()) || !writer->healthy();
  }
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_CONTEXT_H_
