#include "engine/daemon/engine.h"

#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/adaptive/suspension_store.h"
#include "engine/adaptive/warmup_ledger.h"
#include "engine/base/logging.h"
#include "engine/base/memory_budget.h"
#include "engine/bounce/list_unsubscribe.h"
#include "engine/bounce/suppression_list.h"
#include "engine/bounce/unsubscribe_token.h"
#include "engine/bounce/verp.h"
#include "engine/config/reload.h"
#include "engine/daemon/worker.h"
#include "engine/delivery/context.h"
#include "engine/delivery/delivery_shard.h"
#include "engine/events/delivery_log.h"
#include "engine/inject/listener_shared.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/worker_pool.h"
#include "engine/webhook/webhook_queue.h"
#include "queue/disk_space.h"
#include "queue/message_id.h"
#include "queue/spool_writer.h"

namespace volley {
namespace {

// A signing key: the configured one, or one made on first use and kept in the spool's state
// `name`, so that what was signed before a restart (VERP return paths, unsubscribe links) still
// verifies after it.
absl::StatusOr<std::string> SigningKey(const std::string& configured, absl::string_view name,
                                       std::string (*make)(), queue::Spool& spool) {
  if (!configured.empty()) return configured;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> state =
      spool.ReadState(std::string(name));
  if (!state.ok()) return state.status();
  for (const auto& [key_name, value] : *state) {
    if (key_name == "key") return value;
  }
  std::string key = make();
  if (absl::Status put = spool.PutState(std::string(name), "key", key, /*sync=*/true); !put.ok()) {
    return put;
  }
  return key;
}

// What the engine holds in memory: recipients due within the horizon, at most the budget
// (queue/due_loader.h). The rest of the queue lives only in the spool.
constexpr size_t kMemoryBudget = 100000;
constexpr absl::Duration kMemoryHorizon = absl::Minutes(1);
constexpr absl::Duration kLoaderInterval = absl::Seconds(1);

}  // namespace

class Engine::Impl {
 public:
  config::Config config;
  // What delivery follows: `config`, or the last reload of it (its reloadable tables).
  std::shared_ptr<const config::Config> live;
  std::unique_ptr<queue::Spool> spool;
  std::unique_ptr<events::DeliveryLog> log;
  std::unique_ptr<metrics::EngineMetrics> metrics;
  std::unique_ptr<queue::SpoolWriter> writer;
  std::unique_ptr<WorkerPool> io_pool;
  std::unique_ptr<queue::DiskSpaceMonitor> disk_space;
  std::unique_ptr<queue::MessageIdGenerator> ids;
  std::unique_ptr<adaptive::SuspensionStore> suspensions;
  std::unique_ptr<adaptive::WarmupLedger> warmup;
  std::unique_ptr<bounce::SuppressionList> suppressions;
  std::unique_ptr<bounce::VerpCodec> verp;
  // [unsubscribe]: the links' key, and the header fields made with it (null: off).
  std::shared_ptr<const bounce::UnsubscribeTokens> unsubscribe_tokens;
  std::unique_ptr<bounce::ListUnsubscribe> unsubscribe;
  // The HTTP injection API parses requests and builds their messages here, off the loops.
  std::unique_ptr<WorkerPool> http_inject_pool;
  std::unique_ptr<webhook::WebhookQueue> webhooks;  // null without [[webhook]]
  // SMTP AUTH credentials are hashed here, off the loops.
  std::unique_ptr<WorkerPool> auth_pool;
  std::unique_ptr<MemoryBudget> inject_memory;
  // One per [inject.smtp] listener (config.smtp_listeners).
  std::vector<std::unique_ptr<inject::ListenerShared>> smtp_listeners;
  delivery::EngineContext context;
  std::vector<std::unique_ptr<Shard>> shards;
  std::unique_ptr<delivery::DeliveryRouter> router;
  std::vector<std::unique_ptr<daemon::Worker>> workers;
  std::vector<uint16_t> smtp_ports;  // per listen address, fixed by the first shard
  uint16_t http_port = 0;
  RecoveryReport recovery;
  bool stopped = false;

  absl::Status Assemble(const config::Config& config, std::unique_ptr<queue::Spool> spool);
  absl::Status StartWorkers();
  absl::Status Recover();
  absl::Status OpenListeners();
  void StartLoader();
  // Hands every shard the suspensions in force.
  void PublishSuspensions(std::shared_ptr<const adaptive::SuspensionSet> set);
  // The admin API's suspensions and suppression list: their spool reads and writes run on the
  // I/O pool, answers on shard 0.
  http::api::SuspendBackend SuspendApi();
  http::api::SuppressionBackend SuppressionApi();
  // The one-click unsubscribe routes (no tokens: [unsubscribe] is off).
  http::api::UnsubscribeBackend UnsubscribeApi();
  // Runs the work on the I/O pool and hands its answer to shard 0 (the HTTP server's loop).
  http::RunBlocking RunBlockingOnIoPool();
  // Runs `each` with every worker on its shard's thread, one at a time, then `done` on shard 0.
  void OnEveryShard(std::function<void(daemon::Worker&)> each, absl::AnyInvocable<void()> done);
  // Answers a /metrics scrape once every shard has added its part, on its own thread.
  void Scrape(absl::AnyInvocable<void(std::string)> reply);
  // Answers an explain read-out with the site's queues on every shard.
  void Explain(std::string site, absl::AnyInvocable<void(std::vector<std::string>)> reply);
  void StopWorkers(absl::Duration grace);
};

absl::Status Engine::Impl::Assemble(const config::Config& config_in,
                                    std::unique_ptr<queue::Spool> spool_in) {
  config = config_in;
  live = std::shared_ptr<const config::Config>(std::shared_ptr<void>(), &config);
  spool = std::move(spool_in);
  absl::StatusOr<std::unique_ptr<events::DeliveryLog>> opened =
      events::DeliveryLog::Open(config.server.log);
  if (!opened.ok()) return opened.status();
  log = *std::move(opened);
  int threads = config.server.threads;
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  metrics = std::make_unique<metrics::EngineMetrics>(threads, config.http.site_metrics_limit);
  metrics::EngineMetrics* m = metrics.get();
  for (const config::SmtpListenerConfig& listener : config.smtp_listeners) {
    m->AddListener(listener.name);
  }
  writer = std::make_unique<queue::SpoolWriter>(spool.get(),
                                                [m](absl::Duration elapsed, int messages, bool ok) {
                                                  m->CountSpoolCommit(elapsed, messages, ok);
                                                });
  io_pool = std::make_unique<WorkerPool>(2);
  disk_space =
      std::make_unique<queue::DiskSpaceMonitor>(config.server.spool, config.server.spool_min_free);
  ids = std::make_unique<queue::MessageIdGenerator>(Clock::Real());
  suspensions = std::make_unique<adaptive::SuspensionStore>(spool.get(), &Clock::Real(), log.get());
  if (absl::Status loaded = suspensions->Load(); !loaded.ok()) return loaded;
  warmup = std::make_unique<adaptive::WarmupLedger>(spool.get());
  if (absl::Status loaded = warmup->Load(); !loaded.ok()) return loaded;
  warmup->StartFlushing();
  suppressions = std::make_unique<bounce::SuppressionList>(spool.get(), &Clock::Real());
  if (!config.webhooks.empty()) {
    absl::StatusOr<std::unique_ptr<webhook::WebhookQueue>> started =
        webhook::WebhookQueue::Start(config.webhooks, spool.get(), metrics.get());
    if (!started.ok()) return started.status();
    webhooks = *std::move(started);
  }
  if (!config.bounce.verp_domain.empty()) {
    absl::StatusOr<std::string> key =
        SigningKey(config.bounce.verp_secret, "verp", &bounce::NewVerpKey, *spool);
    if (!key.ok()) return key.status();
    verp = std::make_unique<bounce::VerpCodec>(config.bounce.verp_domain, *std::move(key));
    context.verp = verp.get();
  }
  if (config.unsubscribe.on()) {
    absl::StatusOr<std::string> key =
        SigningKey(config.unsubscribe.secret, "unsubscribe", &bounce::NewUnsubscribeKey, *spool);
    if (!key.ok()) return key.status();
    unsubscribe_tokens = std::make_shared<const bounce::UnsubscribeTokens>(*std::move(key));
    bounce::ListUnsubscribeOptions options;
    options.url = config.unsubscribe.url;
    options.expire_after = config.unsubscribe.expire_after;
    options.enabled = config.unsubscribe.enabled;
    options.tenants = config.unsubscribe.tenants;
    unsubscribe = std::make_unique<bounce::ListUnsubscribe>(std::move(options), unsubscribe_tokens);
    context.unsubscribe = unsubscribe.get();
  }
  context.config = &config;
  context.spool = spool.get();
  context.writer = writer.get();
  context.metrics = metrics.get();
  context.clock = &Clock::Real();
  context.io_pool = io_pool.get();
  context.warmup = warmup.get();
  context.suppressions = suppressions.get();
  context.disk_space = disk_space.get();
  context.memory_horizon = kMemoryHorizon;
  // A response rule's suspension is stored off the loops, then published like an operator's.
  context.suspend = [this](adaptive::Suspension s) {
    io_pool->Run([this, s = std::move(s)]() mutable {
      absl::StatusOr<adaptive::Suspension> added = suspensions->Add(std::move(s));
      if (!added.ok()) {
        LOG_EVERY_N_SEC(ERROR, 60) << "a rule's suspension was not stored: " << added.status();
      }
    });
  };
  // A hard bounce's suppression is stored off the loops too.
  context.suppress = [this](bounce::SuppressionEntry e) {
    io_pool->Run([this, e = std::move(e)]() mutable {
      if (absl::Status added = suppressions->Add(std::move(e)); !added.ok()) {
        LOG_EVERY_N_SEC(ERROR, 60) << "a bounce's suppression was not stored: " << added;
      }
    });
  };
  std::vector<Shard*> raw;
  for (int i = 0; i < threads; ++i) {
    shards.push_back(std::make_unique<Shard>(i));
    raw.push_back(shards.back().get());
  }
  router = std::make_unique<delivery::DeliveryRouter>(std::move(raw));
  suspensions->set_publish([this](std::shared_ptr<const adaptive::SuspensionSet> set) {
    PublishSuspensions(std::move(set));
  });
  auth_pool = std::make_unique<WorkerPool>(2);
  http_inject_pool = std::make_unique<WorkerPool>(threads);
  inject_memory = std::make_unique<MemoryBudget>(config.inject.max_memory);
  for (const config::SmtpListenerConfig& listener : config.smtp_listeners) {
    absl::StatusOr<std::unique_ptr<inject::ListenerShared>> made =
        inject::ListenerShared::Create(listener, auth_pool.get());
    if (!made.ok()) return made.status();
    smtp_listeners.push_back(*std::move(made));
  }
  daemon::WorkerShared shared;
  shared.context = context;
  for (auto& listener : smtp_listeners) shared.smtp_listeners.push_back(listener.get());
  shared.inject_memory = inject_memory.get();
  shared.http_inject_pool = http_inject_pool.get();
  shared.log = log.get();
  shared.webhooks = webhooks.get();
  shared.router = router.get();
  shared.ids = ids.get();
  shared.shards = threads;
  for (auto& shard : shards)
    workers.push_back(std::make_unique<daemon::Worker>(shard.get(), shared));
  return absl::OkStatus();
}

absl::Status Engine::Impl::StartWorkers() {
  // Every shard runs before any listens: a message accepted on one may be handed to any.
  for (auto& worker : workers) {
    if (absl::Status status = worker->Start(); !status.ok()) return status;
  }
  // Before the loader or any injection hands them mail (a shard's tasks run in order).
  PublishSuspensions(suspensions->current());
  suspensions->StartExpiring();
  return absl::OkStatus();
}

void Engine::Impl::PublishSuspensions(std::shared_ptr<const adaptive::SuspensionSet> set) {
  for (size_t i = 0; i < router->size(); ++i) {
    router->Post(i, [set](delivery::DeliveryShard& shard) { shard.SetSuspensions(set); });
  }
}

http::api::SuspendBackend Engine::Impl::SuspendApi() {
  http::api::SuspendBackend backend;
  backend.store = suspensions.get();
  backend.clock = &Clock::Real();
  backend.run_blocking = RunBlockingOnIoPool();
  return backend;
}

http::api::UnsubscribeBackend Engine::Impl::UnsubscribeApi() {
  http::api::UnsubscribeBackend backend;
  backend.path = config.unsubscribe.path;
  backend.tokens = unsubscribe_tokens.get();
  backend.list = suppressions.get();
  backend.clock = &Clock::Real();
  backend.run_blocking = RunBlockingOnIoPool();
  return backend;
}

http::api::SuppressionBackend Engine::Impl::SuppressionApi() {
  http::api::SuppressionBackend backend;
  backend.list = suppressions.get();
  backend.clock = &Clock::Real();
  backend.run_blocking = RunBlockingOnIoPool();
  return backend;
}

http::RunBlocking Engine::Impl::RunBlockingOnIoPool() {
  return [this](absl::AnyInvocable<http::HttpResponse() &&> work, http::Respond respond) {
    Shard* http_shard = shards[0].get();
    io_pool->Run([http_shard, work = std::move(work), respond = std::move(respond)]() mutable {
      http::HttpResponse response = std::move(work)();
      http_shard->Post([response = std::move(response), respond = std::move(respond)]() mutable {
        std::move(respond)(std::move(response));
      });
    });
  };
}

absl::Status Engine::Impl::Recover() {
  // A restart reads only the spool's counts here; the writer's loader then feeds the shards
  // from the due-time index, what is due first, as memory allows.
  const absl::Time start = absl::Now();
  absl::StatusOr<queue::MessageId> max_id = spool->MaxMessageId();
  if (!max_id.ok()) return max_id.status();
  ids->RaiseFloor(*max_id);
  recovery.recipients = writer->queued_recipients();
  recovery.duration = absl::Now() - start;
  return absl::OkStatus();
}

absl::Status Engine::Impl::OpenListeners() {
  std::vector<uint16_t> ports;
  for (const config::SmtpListenerConfig& listener : config.smtp_listeners) {
    for (const config::HostPort& listen : listener.listen) ports.push_back(listen.port);
  }
  // The first shard binds the configured ports (0: the kernel picks one); the others share
  // the ports it got.
  for (auto& worker : workers) {
    absl::StatusOr<std::vector<uint16_t>> bound = worker->OpenSmtp(ports);
    if (!bound.ok()) return bound.status();
    ports = *bound;
  }
  smtp_ports = ports;
  absl::StatusOr<uint16_t> http = workers[0]->OpenHttp(
      [this](absl::AnyInvocable<void(std::string)> reply) { Scrape(std::move(reply)); },
      [this](std::string site, absl::AnyInvocable<void(std::vector<std::string>)> reply) {
        Explain(std::move(site), std::move(reply));
      },
      SuspendApi(), SuppressionApi(), UnsubscribeApi());
  if (!http.ok()) return http.status();
  http_port = *http;
  return absl::OkStatus();
}

void Engine::Impl::OnEveryShard(std::function<void(daemon::Worker&)> each,
                                absl::AnyInvocable<void()> done) {
  // The last shard to run `each` hands `done` to shard 0, whose loop runs the HTTP server.
  struct Round {
    std::mutex mutex;  // serialises `each`, which adds to what the caller gathers
    int remaining = 0;
    absl::AnyInvocable<void()> done;
  };
  auto round = std::make_shared<Round>();
  round->remaining = static_cast<int>(workers.size());
  round->done = std::move(done);
  auto finish = [this, round] { shards[0]->Post([round] { std::move(round->done)(); }); };
  for (auto& worker : workers) {
    daemon::Worker* w = worker.get();
    auto run = [w, round, each, finish] {
      {
        std::lock_guard<std::mutex> lock(round->mutex);
        each(*w);
        if (--round->remaining > 0) return;
      }
      finish();
    };
    if (!w->shard()->Post(run)) {
      // A stopped shard holds nothing.
      std::lock_guard<std::mutex> lock(round->mutex);
      if (--round->remaining == 0) finish();
    }
  }
}

void Engine::Impl::Scrape(absl::AnyInvocable<void(std::string)> reply) {
  auto totals = std::make_shared<metrics::ScrapeTotals>();
  totals->spooled_recipients = static_cast<int64_t>(writer->queued_recipients());
  totals->spool_bytes = spool->DiskBytes();
  totals->spool_free_bytes = disk_space->free_bytes();
  totals->spool_refusing = context.SpoolRefusesInjection();
  totals->suspended_domains = suspensions->SuspendedDomains();
  totals->suspensions = static_cast<int64_t>(suspensions->List().size());
  metrics->inject_memory_bytes().Set(static_cast<int64_t>(inject_memory->used()));
  OnEveryShard([totals](daemon::Worker& w) { w.Collect(totals.get()); },
               [this, totals, reply = std::move(reply)]() mutable {
                 std::move(reply)(metrics->Render(*totals));
               });
}

void Engine::Impl::Explain(std::string site,
                           absl::AnyInvocable<void(std::vector<std::string>)> reply) {
  auto found = std::make_shared<std::vector<delivery::SiteSnapshot>>();
  OnEveryShard([found, site](daemon::Worker& w) { w.Explain(site, found.get()); },
               [found, reply = std::move(reply)]() mutable {
                 std::vector<std::string> queues;
                 for (const delivery::SiteSnapshot& s : *found) {
                   queues.push_back(delivery::SiteSnapshotJson(s));
                 }
                 std::move(reply)(std::move(queues));
               });
}

void Engine::Impl::StartLoader() {
  queue::LoaderOptions options;
  options.budget = kMemoryBudget;
  options.horizon = kMemoryHorizon;
  options.interval = kLoaderInterval;
  delivery::DeliveryRouter* r = router.get();
  writer->StartLoader(options, [r](std::vector<queue::DueRecipient> due) {
    // On the writer thread: recipients of one message share their MessageInfo.
    std::vector<delivery::RecipientPtr> batch;
    batch.reserve(due.size());
    std::shared_ptr<const delivery::MessageInfo> info;
    for (queue::DueRecipient& d : due) {
      if (info == nullptr || info->id != d.meta.id) info = delivery::MakeMessageInfo(d.meta);
      batch.push_back(delivery::MakeRecipient(info, nullptr, std::move(d.record)));
    }
    delivery::DeliveryShard::Dispatch(*r, std::move(batch));
  });
}

void Engine::Impl::StopWorkers(absl::Duration grace) {
  // Every shard stops at once; each has `grace` for what it has in flight.
  for (auto& worker : workers) worker->BeginStop(grace);
  for (auto& worker : workers) worker->Join();
  workers.clear();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(const config::Config& config,
                                                      std::unique_ptr<queue::Spool> spool) {
  auto engine = std::unique_ptr<Engine>(new Engine(std::make_unique<Impl>()));
  Impl& e = *engine->impl_;
  absl::Status status = e.Assemble(config, std::move(spool));
  if (status.ok()) status = e.StartWorkers();
  if (status.ok()) status = e.Recover();
  if (status.ok()) status = e.OpenListeners();
  if (!status.ok()) {
    engine->Stop(absl::ZeroDuration());
    return status;
  }
  e.StartLoader();
  return engine;
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Stop(); }

void Engine::Stop(absl::Duration grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->StopWorkers(grace);
  impl_->http_inject_pool.reset();  // its last tasks find their shard stopped
  impl_->io_pool.reset();
  // Checks still queued run now, while the listeners' checkers they use and the shards they
  // answer to (stopped: the answers are dropped) still exist.
  impl_->auth_pool.reset();
  impl_->suspensions.reset();  // its expiry thread posts to the shards and writes the spool
  impl_->warmup.reset();       // writes the warm-up counts as they are at the stop
  impl_->webhooks.reset();     // queues the last events; each sender ends after its request
  if (impl_->writer != nullptr) impl_->writer->Stop();
  if (impl_->log != nullptr) impl_->log->Flush();
}

Engine::ReloadReport Engine::Reload(config::Config loaded) {
  // The listeners' certificates and users files are read again whatever the file says: a
  // renewed certificate is the usual reason for a SIGHUP. (A changed [inject] table itself
  // needs a restart.)
  for (auto& listener : impl_->smtp_listeners) {
    if (absl::Status reloaded = listener->Reload(); !reloaded.ok()) {
      LOG(ERROR) << "SIGHUP: " << reloaded.message();
    } else if (listener->config().tls != config::SmtpListenerTls::kNone ||
               listener->checker() != nullptr) {
      LOG(INFO) << "SIGHUP: listener " << listener->config().name
                << ": certificate and users reloaded";
    }
  }
  config::ReloadPlan plan = config::PlanReload(*impl_->live, std::move(loaded));
  ReloadReport report{std::move(plan.applied), std::move(plan.need_restart)};
  if (report.applied.empty() || impl_->stopped) return report;
  impl_->live = std::make_shared<const config::Config>(std::move(plan.config));
  for (size_t i = 0; i < impl_->router->size(); ++i) {
    impl_->router->Post(
        i, [config = impl_->live](delivery::DeliveryShard& shard) { shard.Reconfigure(config); });
  }
  return report;
}

void Engine::ReopenLog() { impl_->log->Reopen(); }

std::vector<std::string> Engine::smtp_addresses() const {
  std::vector<std::string> out;
  size_t i = 0;
  for (const config::SmtpListenerConfig& listener : impl_->config.smtp_listeners) {
    for (config::HostPort hp : listener.listen) {
      if (i < impl_->smtp_ports.size()) hp.port = impl_->smtp_ports[i];
      ++i;
      out.push_back(hp.ToString());
    }
  }
  return out;
}

std::string Engine::http_address() const {
  config::HostPort hp = impl_->config.http.listen;
  hp.port = impl_->http_port;
  return hp.ToString();
}

const Engine::RecoveryReport& Engine::recovery() const { return impl_->recovery; }

}  // namespace volley
