// Everything one shard runs: its delivery (resolver, queues, connections), its injector and
// SMTP listeners, and on shard 0 the HTTP server. The Engine makes one Worker per shard.
#ifndef VOLLEY_ENGINE_DAEMON_WORKER_H_
#define VOLLEY_ENGINE_DAEMON_WORKER_H_

#include <cstdint>
#include <future>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dns/mx_resolver.h"
#include "engine/base/memory_budget.h"
#include "engine/config/config.h"
#include "engine/delivery/context.h"
#include "engine/delivery/delivery_shard.h"
#include "engine/events/event_bus.h"
#include "engine/http/api/explain.h"
#include "engine/http/api/metrics.h"
#include "engine/http/api/suppression.h"
#include "engine/http/api/suspend.h"
#include "engine/http/api/unsubscribe.h"
#include "engine/http/http_server.h"
#include "engine/inject/http_injection.h"
#include "engine/inject/injector.h"
#include "engine/inject/listener_shared.h"
#include "engine/inject/smtp_injection.h"
#include "engine/inject/smtp_listener.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/metrics/event_counters.h"
#include "engine/metrics/loop_lag.h"
#include "engine/runtime/deferred_calls.h"
#include "engine/runtime/shard.h"
#include "queue/message_id.h"

namespace volley::daemon {

// What the workers share; it outlives them.
struct WorkerShared {
  // Process-wide services; its `events` is set per worker.
  delivery::EngineContext context;
  events::EventSink* log = nullptr;       // the delivery log
  events::EventSink* webhooks = nullptr;  // the webhook queues (null: none configured)
  delivery::DeliveryRouter* router = nullptr;
  queue::MessageIdGenerator* ids = nullptr;
  int shards = 1;
  // One per [inject.smtp] listener, in config order (config.smtp_listeners).
  std::vector<inject::ListenerShared*> smtp_listeners;
  MemoryBudget* inject_memory = nullptr;   // [inject] max_memory
  WorkerPool* http_inject_pool = nullptr;  // where HTTP injection requests are built
};

// The public methods are called by the Engine's thread; each runs its work on the shard's
// loop thread (Shard::Call), where everything the worker owns is made, used and destroyed.
class Worker {
 public:
  // `shard` is not started yet; it outlives the worker.
  Worker(Shard* shard, const WorkerShared& shared);
  ~Worker();  // the shard's thread must have ended (Join)
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the shard's thread and builds the worker's parts on it.
  absl::Status Start();
  // The SMTP listeners on the configured addresses. `ports` are the ports to bind, one per
  // address of every listener in order (0: the kernel chooses); the ports bound are returned.
  absl::StatusOr<std::vector<uint16_t>> OpenSmtp(const std::vector<uint16_t>& ports);
  // The HTTP server (shard 0); returns the port bound.
  absl::StatusOr<uint16_t> OpenHttp(http::api::Scrape scrape, http::api::ExplainSite explain,
                                    http::api::SuspendBackend suspend,
                                    http::api::SuppressionBackend suppression,
                                    http::api::UnsubscribeBackend unsubscribe);
  // On the shard's loop thread: this shard's part of a /metrics scrape, and of an explain
  // read-out (its queues of `site`).
  void Collect(metrics::ScrapeTotals* totals) const;
  void Explain(absl::string_view site, std::vector<delivery::SiteSnapshot>* found) const;

  // Stops: listeners close (sessions finish their current transaction, at most `grace`),
  // delivery stops (transactions in flight get `grace`, then are abandoned and stay queued),
  // everything is destroyed on the loop, and the thread ends. Returns at once; Join waits.
  void BeginStop(absl::Duration grace);
  void Join();

  Shard* shard() { return shard_; }

 private:
  absl::Status Build();
  // The options of the listener at `index` of smtp_listeners, for one of its addresses.
  inject::SmtpListenerOptions ListenerOptions(size_t index);
  // Counts a refusal in volley_injection_refusals_total (on this shard's slot).
  std::function<void(absl::string_view)> CountRefusal();
  // AUTH for a listener's sessions through `checker` (null: no AUTH).
  smtp::Authenticator Authenticator(inject::CredentialChecker* checker);
  void StopOnLoop(absl::Duration grace);
  void Teardown();
  // An Unsubscribe record for a followed one-click link (on this loop).
  void RecordUnsubscribe(const bounce::UnsubscribeClaim& claim, absl::string_view peer);

  Shard* const shard_;
  WorkerShared shared_;
  bool started_ = false;
  // Loop thread only, from Build until Teardown.
  events::EventBus events_;
  std::unique_ptr<metrics::EventCounters> counters_;
  std::unique_ptr<metrics::LoopLagProbe> loop_lag_;  // volley_loop_lag_seconds{shard}
  std::unique_ptr<delivery::DeliveryShard> delivery_;
  std::unique_ptr<inject::Injector> injector_;
  std::unique_ptr<inject::BounceIntake> intake_;
  // One per [inject.smtp] listener; its SmtpListeners (one per address) are in listeners_.
  std::vector<std::unique_ptr<inject::SmtpInjection>> smtp_injections_;
  // AUTH refusals wait here for the delay the credential checker asks for.
  std::shared_ptr<DeferredCalls> auth_delays_;
  std::vector<std::unique_ptr<inject::SmtpListener>> listeners_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<inject::HttpInjection> http_injection_;  // with http_
  int closing_ = 0;                                        // parts still closing during the stop
};

// The resolver settings of [dns].
dns::ResolverOptions ResolverOptionsFrom(const config::DnsConfig& dns);

}  // namespace volley::daemon

#endif  // VOLLEY_ENGINE_DAEMON_WORKER_H_
