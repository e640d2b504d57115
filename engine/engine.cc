#include "engine/engine.h"

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/base/logging.h"
#include "engine/delivery/context.h"
#include "engine/delivery/delivery_shard.h"
#include "engine/delivery/dispatcher.h"
#include "engine/events/delivery_log.h"
#include "engine/events/event_bus.h"
#include "engine/http/http_server.h"
#include "engine/inject/injection_handler.h"
#include "engine/inject/smtp_listener.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/metrics/event_counters.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/worker_pool.h"
#include "engine/smtp/command_parser.h"
#include "queue/disk_space.h"
#include "queue/message_id.h"
#include "queue/spool_writer.h"

namespace volley {
namespace {

// What the engine holds in memory: recipients due within the horizon, at most the budget
// (queue/spool_writer.h). The rest of the queue lives only in the spool.
constexpr size_t kMemoryBudget = 100000;
constexpr absl::Duration kMemoryHorizon = absl::Minutes(1);
constexpr absl::Duration kLoaderInterval = absl::Seconds(1);

}  // namespace

class Engine::Impl {
 public:
  // Everything one shard owns, created and destroyed on its loop thread.
  struct ShardParts {
    std::unique_ptr<Shard> shard;
    std::unique_ptr<delivery::DeliveryShard> delivery;
    std::unique_ptr<inject::InjectionHandler> injection;
    std::vector<std::unique_ptr<inject::SmtpListener>> listeners;
    std::unique_ptr<http::HttpServer> http;  // shard 0 only
    // Where the shard's events go: the delivery log and the shard's own counters.
    events::EventBus events;
    std::unique_ptr<metrics::EventCounters> counters;
    int inbound_connections = 0;  // open sessions on the shard's listeners (loop thread)
    bool running = false;         // the thread and loop are up
  };

  config::Config config;
  std::unique_ptr<queue::Spool> spool;
  std::unique_ptr<events::DeliveryLog> log;
  std::unique_ptr<metrics::EngineMetrics> metrics;
  std::unique_ptr<queue::SpoolWriter> writer;
  std::unique_ptr<WorkerPool> io_pool;
  std::unique_ptr<queue::DiskSpaceMonitor> disk_space;
  std::unique_ptr<queue::MessageIdGenerator> ids;
  std::unique_ptr<delivery::Dispatcher> dispatcher;
  delivery::EngineContext context;
  std::vector<ShardParts> shards;
  std::vector<uint16_t> smtp_ports;  // per listen address, fixed by the first shard
  uint16_t http_port = 0;
  RecoveryReport recovery;
  bool stopped = false;

  absl::Status StartShard(ShardParts& parts);
  absl::Status OpenListeners(ShardParts& parts, int index);
  void StopShards(absl::Duration grace);
  absl::Status Recover();
  void StartLoader();
  // Answers a /metrics scrape once every shard has added its part (on its own thread).
  void Scrape(http::Respond respond);
};

absl::Status Engine::Impl::StartShard(ShardParts& parts) {
  absl::Status started = parts.shard->Start([this, &parts]() -> absl::Status {
    absl::Status status = parts.delivery->Init();
    if (!status.ok()) return status;
    delivery::EngineContext shard_context = context;
    shard_context.events = &parts.events;
    parts.injection = std::make_unique<inject::InjectionHandler>(parts.shard.get(), shard_context,
                                                                 dispatcher.get(), ids.get());
    return absl::OkStatus();
  });
  parts.running = started.ok();
  return started;
}

absl::Status Engine::Impl::OpenListeners(ShardParts& parts, int index) {
  // Runs on the shard's thread; the caller waits. Listeners open only once every shard runs,
  // since a message accepted here may be handed to any of them.
  std::promise<absl::Status> opened;
  std::future<absl::Status> result = opened.get_future();
  parts.shard->Post([this, &parts, index, &opened]() {
    const config::SmtpInjectConfig& inject = config.inject_smtp;
    for (size_t i = 0; i < inject.listen.size(); ++i) {
      inject::SmtpListenerOptions options;
      options.address = inject.listen[i].host;
      options.port = index == 0 ? inject.listen[i].port : smtp_ports[i];
      options.reuse_port = true;
      options.max_connections =
          std::max(1, inject.max_connections / static_cast<int>(shards.size()));
      options.session.hostname = config.server.hostname;
      options.session.max_message_size = inject.max_message_size;
      options.session.max_recipients = inject.max_recipients;
      int* inbound = &parts.inbound_connections;
      options.on_connections_changed = [inbound](int delta) { *inbound += delta; };
      absl::StatusOr<std::unique_ptr<inject::SmtpListener>> listener =
          inject::SmtpListener::Create(parts.shard->loop(), options, parts.injection.get());
      if (!listener.ok()) {
        opened.set_value(
            absl::Status(listener.status().code(),
                         absl::StrCat("[inject.smtp] listen ", inject.listen[i].ToString(), ": ",
                                      listener.status().message())));
        return;
      }
      if (index == 0) smtp_ports.push_back((*listener)->port());
      parts.listeners.push_back(std::move(*listener));
    }
    if (index == 0) {
      http::HttpServerOptions options;
      options.address = config.http.listen.host;
      options.port = config.http.listen.port;
      absl::StatusOr<std::unique_ptr<http::HttpServer>> server =
          http::HttpServer::Create(parts.shard->loop(), options);
      if (!server.ok()) {
        opened.set_value(absl::Status(server.status().code(),
                                      absl::StrCat("[http] listen ", config.http.listen.ToString(),
                                                   ": ", server.status().message())));
        return;
      }
      parts.http = std::move(*server);
      http_port = parts.http->port();
      parts.http->Route("GET", "/metrics", [this](const http::HttpRequest&, http::Respond respond) {
        Scrape(std::move(respond));
      });
      parts.http->Route("GET", "/api/check-liveness/v1",
                        [](const http::HttpRequest&, http::Respond respond) {
                          std::move(respond)(http::HttpResponse::Text(200, "OK\n"));
                        });
    }
    opened.set_value(absl::OkStatus());
  });
  return result.get();
}

void Engine::Impl::Scrape(http::Respond respond) {
  // What one scrape gathers; the last shard to add its part hands it back to shard 0, whose loop
  // runs the HTTP server.
  struct Gathering {
    std::mutex mutex;
    metrics::ScrapeTotals totals;
    int remaining = 0;
    http::Respond respond;
  };
  auto gathering = std::make_shared<Gathering>();
  gathering->respond = std::move(respond);
  gathering->remaining = static_cast<int>(shards.size());
  gathering->totals.spooled_recipients = static_cast<int64_t>(writer->queued_recipients());
  gathering->totals.spool_bytes = spool->DiskBytes();
  gathering->totals.spool_free_bytes = disk_space->free_bytes();
  gathering->totals.spool_refusing = context.SpoolRefusesInjection();
  auto finish = [this, gathering] {
    shards[0].shard->Post([this, gathering] {
      http::HttpResponse response =
          http::HttpResponse::Text(200, metrics->Render(gathering->totals));
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      std::move(gathering->respond)(std::move(response));
    });
  };
  for (ShardParts& parts : shards) {
    ShardParts* p = &parts;
    auto add = [p, gathering, finish] {
      {
        std::lock_guard<std::mutex> lock(gathering->mutex);
        p->delivery->Collect(&gathering->totals);
        gathering->totals.connections[static_cast<size_t>(metrics::Direction::kInbound)] +=
            p->inbound_connections;
        if (--gathering->remaining > 0) return;
      }
      finish();
    };
    if (!parts.shard->Post(add)) {
      // A stopped shard holds nothing.
      std::lock_guard<std::mutex> lock(gathering->mutex);
      if (--gathering->remaining == 0) finish();
    }
  }
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

void Engine::Impl::StartLoader() {
  queue::LoaderOptions options;
  options.budget = kMemoryBudget;
  options.horizon = kMemoryHorizon;
  options.interval = kLoaderInterval;
  writer->StartLoader(options, [this](std::vector<queue::DueRecipient> due) {
    // On the writer thread: recipients of one message share their MessageInfo.
    std::vector<delivery::RecipientPtr> batch;
    batch.reserve(due.size());
    std::shared_ptr<const delivery::MessageInfo> info;
    for (queue::DueRecipient& d : due) {
      if (info == nullptr || info->id != d.meta.id) info = delivery::MakeMessageInfo(d.meta);
      batch.push_back(delivery::MakeRecipient(info, nullptr, std::move(d.record)));
    }
    dispatcher->Dispatch(std::move(batch));
  });
}

void Engine::Impl::StopShards(absl::Duration grace) {
  std::vector<std::future<void>> stopped_futures;
  for (ShardParts& parts : shards) {
    if (!parts.running) continue;
    auto promise = std::make_shared<std::promise<void>>();
    stopped_futures.push_back(promise->get_future());
    ShardParts* p = &parts;
    const bool posted = parts.shard->Post([p, grace, promise]() {
      // Count what must close before the loop can end.
      auto remaining =
          std::make_shared<int>(1 + static_cast<int>(p->listeners.size()) + (p->http ? 1 : 0));
      auto one_done = [p, remaining, promise]() {
        if (--*remaining > 0) return;
        p->listeners.clear();
        p->http.reset();
        p->shard->CloseMailbox();
        promise->set_value();
      };
      for (auto& listener : p->listeners) listener->Close(grace, one_done);
      if (p->http) p->http->Close(one_done);
      p->delivery->Shutdown(grace, one_done);
    });
    if (!posted) promise->set_value();
  }
  for (auto& f : stopped_futures) f.wait();
  for (ShardParts& parts : shards) {
    if (parts.running) parts.shard->Join();
    parts.running = false;
  }
  // The loops are gone; what they owned can go too.
  for (ShardParts& parts : shards) {
    parts.injection.reset();
    parts.delivery.reset();
    parts.shard.reset();
  }
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(const config::Config& config,
                                                      std::unique_ptr<queue::Spool> spool) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->spool = std::move(spool);
  absl::StatusOr<std::unique_ptr<events::DeliveryLog>> log =
      events::DeliveryLog::Open(config.server.log);
  if (!log.ok()) return log.status();
  impl->log = std::move(*log);

  int threads = config.server.threads;
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  impl->metrics = std::make_unique<metrics::EngineMetrics>(threads);
  metrics::EngineMetrics* metrics = impl->metrics.get();
  impl->writer = std::make_unique<queue::SpoolWriter>(
      impl->spool.get(), [metrics](absl::Duration elapsed, int messages, bool ok) {
        metrics->CountSpoolCommit(elapsed, messages, ok);
      });
  impl->io_pool = std::make_unique<WorkerPool>(2);
  impl->disk_space =
      std::make_unique<queue::DiskSpaceMonitor>(config.server.spool, config.server.spool_min_free);
  impl->ids = std::make_unique<queue::MessageIdGenerator>(Clock::Real());

  impl->context.config = &impl->config;
  impl->context.spool = impl->spool.get();
  impl->context.writer = impl->writer.get();
  impl->context.metrics = impl->metrics.get();
  impl->context.clock = &Clock::Real();
  impl->context.io_pool = impl->io_pool.get();
  impl->context.disk_space = impl->disk_space.get();
  impl->context.memory_horizon = kMemoryHorizon;

  impl->shards.resize(static_cast<size_t>(threads));
  std::vector<delivery::DeliveryShard*> delivery_shards;
  // Delivery shards exist before any loop runs, so the dispatcher can name them all.
  for (int i = 0; i < threads; ++i) {
    Impl::ShardParts& parts = impl->shards[i];
    parts.shard = std::make_unique<Shard>(i);
    parts.counters = std::make_unique<metrics::EventCounters>(metrics, i);
    parts.events.Subscribe(impl->log.get());
    parts.events.Subscribe(parts.counters.get());
    delivery::EngineContext shard_context = impl->context;
    shard_context.events = &parts.events;
    parts.delivery = std::make_unique<delivery::DeliveryShard>(parts.shard.get(), shard_context);
    delivery_shards.push_back(impl->shards[i].delivery.get());
  }
  impl->dispatcher = std::make_unique<delivery::Dispatcher>(std::move(delivery_shards));
  for (int i = 0; i < threads; ++i) {
    impl->shards[i].delivery->set_dispatcher(impl->dispatcher.get());
  }

  auto engine = std::unique_ptr<Engine>(new Engine(std::move(impl)));
  Impl& e = *engine->impl_;
  for (int i = 0; i < threads; ++i) {
    absl::Status status = e.StartShard(e.shards[i]);
    if (!status.ok()) {
      engine->Stop(absl::ZeroDuration());
      return status;
    }
  }
  absl::Status recovered = e.Recover();
  if (!recovered.ok()) {
    engine->Stop(absl::ZeroDuration());
    return recovered;
  }
  for (int i = 0; i < threads; ++i) {
    absl::Status status = e.OpenListeners(e.shards[i], i);
    if (!status.ok()) {
      engine->Stop(absl::ZeroDuration());
      return status;
    }
  }
  e.StartLoader();
  return engine;
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Stop(); }

void Engine::Stop(absl::Duration grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->StopShards(grace);
  impl_->io_pool.reset();
  impl_->writer->Stop();
  impl_->log->Flush();
}

void Engine::ReopenLog() { impl_->log->Reopen(); }

std::vector<std::string> Engine::smtp_addresses() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < impl_->smtp_ports.size(); ++i) {
    config::HostPort hp = impl_->config.inject_smtp.listen[i];
    hp.port = impl_->smtp_ports[i];
    out.push_back(hp.ToString());
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
