#include "engine/daemon/worker.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dns/mx_resolver.h"
#include "engine/base/logging.h"
#include "engine/delivery/smtp_connection.h"
#include "engine/http/api/liveness.h"
#include "engine/http/bearer_auth.h"
#include "engine/inject/credential_checker.h"
#include "engine/smtp/command_parser.h"
#include "engine/smtp/local_replies.h"
#include "engine/smtp/reply.h"

namespace volley::daemon {

dns::ResolverOptions ResolverOptionsFrom(const config::DnsConfig& dns) {
  dns::ResolverOptions options;
  for (const config::HostPort& server : dns.servers) options.servers.push_back(server.ToString());
  options.timeout = dns.timeout;
  switch (dns.ip_lookup_strategy) {
    case config::IpLookupStrategy::kIpv4ThenIpv6:
      options.ip_lookup_strategy = dns::IpLookupStrategy::kIpv4ThenIpv6;
      break;
    case config::IpLookupStrategy::kIpv6ThenIpv4:
      options.ip_lookup_strategy = dns::IpLookupStrategy::kIpv6ThenIpv4;
      break;
    case config::IpLookupStrategy::kIpv4Only:
      options.ip_lookup_strategy = dns::IpLookupStrategy::kIpv4Only;
      break;
    case config::IpLookupStrategy::kIpv6Only:
      options.ip_lookup_strategy = dns::IpLookupStrategy::kIpv6Only;
      break;
  }
  options.min_ttl = dns.min_ttl;
  options.max_ttl = dns.max_ttl;
  options.serve_stale = dns.serve_stale;
  options.cache_size = static_cast<size_t>(dns.cache_size);
  return options;
}

Worker::Worker(Shard* shard, const WorkerShared& shared) : shard_(shard), shared_(shared) {}

Worker::~Worker() = default;

absl::Status Worker::Start() {
  absl::Status status = shard_->Start([this] { return Build(); });
  started_ = status.ok();
  return status;
}

absl::Status Worker::Build() {
  const int index = shard_->index();
  counters_ = std::make_unique<metrics::EventCounters>(shared_.context.metrics, index);
  loop_lag_ = std::make_unique<metrics::LoopLagProbe>(shard_->loop(),
                                                      &shared_.context.metrics->loop_lag(index));
  events_.Subscribe(shared_.log);
  events_.Subscribe(counters_.get());
  if (shared_.webhooks != nullptr) events_.Subscribe(shared_.webhooks);
  delivery::EngineContext context = shared_.context;
  context.events = &events_;
  absl::StatusOr<std::unique_ptr<dns::MxResolver>> resolver = dns::MxResolver::Create(
      shard_->loop(), ResolverOptionsFrom(context.config->dns), *context.clock);
  if (!resolver.ok()) return resolver.status();
  delivery_ = std::make_unique<delivery::DeliveryShard>(
      shard_, context, shared_.router, *std::move(resolver), delivery::SmtpConnectionFactory());
  shared_.router->Attach(static_cast<size_t>(index), delivery_.get());
  injector_ = std::make_unique<inject::Injector>(shard_, context, shared_.router, shared_.ids);
  // This shard's delivery notices are messages like any other, from the null sender.
  delivery_->SetNoticeStore(
      [injector = injector_.get()](delivery::NoticeMessage notice,
                                   absl::AnyInvocable<void(absl::Status)> done) {
        inject::InjectRequest request;
        request.listener = "dsn";
        request.sender = "";
        request.recipients.push_back(inject::InjectRecipient{std::move(notice.to), "NEVER", ""});
        request.content = std::move(notice.content);
        request.smtputf8 = notice.smtputf8;
        request.tags.tenant = std::move(notice.tenant);
        request.completes = std::move(notice.completes);
        request.check_suppression = false;
        injector->Inject(std::move(request),
                         [done = std::move(done)](absl::StatusOr<std::string> queue_id) mutable {
                           done(queue_id.status());
                         });
      });
  intake_ = std::make_unique<inject::BounceIntake>(shard_, context);
  auth_delays_ = std::make_shared<DeferredCalls>(shard_->loop());
  for (inject::ListenerShared* listener : shared_.smtp_listeners) {
    inject::SmtpInjectionOptions options =
        inject::SmtpInjectionOptionsFrom(listener->config(), context.config->inject);
    options.limits = listener->limits();
    options.on_refusal = CountRefusal();
    smtp_injections_.push_back(std::make_unique<inject::SmtpInjection>(
        injector_.get(), std::move(options), intake_.get(), shard_->loop()));
  }
  return absl::OkStatus();
}

std::function<void(absl::string_view)> Worker::CountRefusal() {
  return [metrics = shared_.context.metrics, shard = shard_->index()](absl::string_view reason) {
    metrics->CountInjectionRefusal(shard, reason);
  };
}

smtp::Authenticator Worker::Authenticator(inject::CredentialChecker* checker) {
  if (checker == nullptr) return nullptr;
  std::weak_ptr<DeferredCalls> delays = auth_delays_;
  metrics::EngineMetrics* metrics = shared_.context.metrics;
  Shard* shard = shard_;
  return [checker, delays, metrics, shard](smtp::AuthAttempt attempt,
                                           absl::AnyInvocable<void(bool)> done) {
    // Hashing runs on the auth pool; the answer comes back to this shard, after the delay a
    // guessing client has earned.
    checker->Check(
        std::move(attempt.peer_address), std::move(attempt.user), std::move(attempt.password),
        [delays, metrics, shard,
         done = std::move(done)](inject::CredentialChecker::Verdict verdict) mutable {
          metrics->auth_attempts(verdict.ok).Add(shard->index());
          shard->Post([delays, verdict, done = std::move(done)]() mutable {
            std::shared_ptr<DeferredCalls> calls = delays.lock();
            if (calls == nullptr) return;  // the worker is going
            calls->RunAfter(verdict.delay,
                            [done = std::move(done), ok = verdict.ok]() mutable { done(ok); });
          });
        });
  };
}

inject::SmtpListenerOptions Worker::ListenerOptions(size_t index) {
  const config::Config& config = *shared_.context.config;
  inject::ListenerShared* shared = shared_.smtp_listeners[index];
  const config::SmtpListenerConfig& listener = shared->config();
  inject::SmtpListenerOptions options;
  options.reuse_port = true;
  options.max_connections = std::max(1, listener.max_connections / shared_.shards);
  options.command_timeout = listener.command_timeout;
  options.min_data_rate = listener.min_data_rate;
  options.session_timeout = listener.session_timeout;
  options.on_refusal = CountRefusal();
  options.admit = [shared, hostname = config.server.hostname, refused = CountRefusal()](
                      const std::string& peer) -> std::optional<smtp::Reply> {
    switch (shared->limits()->Arrive(peer, absl::Now())) {
      case inject::ClientLimits::Verdict::kAdmitted:
        return std::nullopt;
      case inject::ClientLimits::Verdict::kTooManyConnections:
        refused("connections_per_ip");
        return smtp::MakeLocalReply(smtp::LocalReply::kIpConnectionLimit, hostname, peer);
      case inject::ClientLimits::Verdict::kConnectionRate:
        refused("connection_rate_per_ip");
        return smtp::MakeLocalReply(smtp::LocalReply::kIpConnectionRate, hostname, peer);
    }
    return std::nullopt;
  };
  options.on_leave = [shared](const std::string& peer) { shared->limits()->Leave(peer); };
  if (listener.tls != config::SmtpListenerTls::kNone) {
    options.tls_context = [shared] { return shared->tls(); };
    options.implicit_tls = listener.tls == config::SmtpListenerTls::kImplicit;
  }
  smtp::ServerSessionOptions& session = options.session;
  session.hostname = config.server.hostname;
  session.max_message_size = listener.max_message_size;
  session.max_recipients = listener.max_recipients;
  session.authenticate = Authenticator(shared->checker());
  session.auth_requires_tls = !listener.allow_auth_without_tls;
  session.auth_required = listener.auth == config::SmtpListenerAuth::kRequired;
  session.tls_required = listener.require_tls;
  session.memory = shared_.inject_memory;
  session.strict_addresses = true;
  session.on_refusal = CountRefusal();
  return options;
}

absl::StatusOr<std::vector<uint16_t>> Worker::OpenSmtp(const std::vector<uint16_t>& ports) {
  std::vector<uint16_t> bound;
  absl::Status status = shard_->Call([&]() -> absl::Status {
    size_t next_port = 0;
    for (size_t i = 0; i < shared_.smtp_listeners.size(); ++i) {
      const config::SmtpListenerConfig& config = shared_.smtp_listeners[i]->config();
      for (const config::HostPort& address : config.listen) {
        inject::SmtpListenerOptions options = ListenerOptions(i);
        options.address = address.host;
        options.port = next_port < ports.size() ? ports[next_port] : address.port;
        ++next_port;
        absl::StatusOr<std::unique_ptr<inject::SmtpListener>> listener =
            inject::SmtpListener::Create(shard_->loop(), options, smtp_injections_[i].get());
        if (!listener.ok()) {
          return absl::Status(listener.status().code(),
                              absl::StrCat("[inject.smtp] listener ", config.name, " listen ",
                                           address.ToString(), ": ", listener.status().message()));
        }
        bound.push_back((*listener)->port());
        listeners_.push_back(*std::move(listener));
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return bound;
}

absl::StatusOr<uint16_t> Worker::OpenHttp(http::api::Scrape scrape, http::api::ExplainSite explain,
                                          http::api::SuspendBackend suspend,
                                          http::api::SuppressionBackend suppression,
                                          http::api::UnsubscribeBackend unsubscribe) {
  uint16_t port = 0;
  absl::Status status = shard_->Call([&]() -> absl::Status {
    const config::Config& config = *shared_.context.config;
    const config::HostPort& listen = config.http.listen;
    http::HttpServerOptions options;
    options.address = listen.host;
    options.port = listen.port;
    options.max_body_bytes = config.http.max_request_size;
    absl::StatusOr<std::unique_ptr<http::HttpServer>> server =
        http::HttpServer::Create(shard_->loop(), options);
    if (!server.ok()) {
      return absl::Status(server.status().code(), absl::StrCat("[http] listen ", listen.ToString(),
                                                               ": ", server.status().message()));
    }
    http_ = *std::move(server);
    if (const std::string& token = config.http.admin_token; !token.empty()) {
      http_->router().Guard("/api/admin/", [token](const http::HttpRequest& request) {
        return http::CheckBearer(request, {token}, "admin_token");
      });
    }
    http::api::RegisterMetrics(&http_->router(), std::move(scrape));
    http::api::RegisterLiveness(&http_->router());
    http::api::RegisterExplain(&http_->router(), std::move(explain));
    http::api::RegisterSuspend(&http_->router(), std::move(suspend));
    http::api::RegisterSuppression(&http_->router(), std::move(suppression));
    if (shared_.http_inject_pool != nullptr) {
      inject::HttpInjectionOptions inject;
      inject.token = config.http.inject_token;
      inject.admin_token = config.http.admin_token;
      inject.limits.max_recipients = static_cast<size_t>(config.http.inject_max_recipients);
      inject.build.hostname = config.server.hostname;
      inject.build.max_message_size = config.http.inject_max_message_size;
      inject.memory = shared_.inject_memory;
      http_injection_ = std::make_unique<inject::HttpInjection>(
          shard_, injector_.get(), shared_.http_inject_pool, std::move(inject));
      http_injection_->Register(&http_->router());
    }
    if (unsubscribe.tokens != nullptr) {
      unsubscribe.record = [this](const bounce::UnsubscribeClaim& claim, absl::string_view peer) {
        RecordUnsubscribe(claim, peer);
      };
      http::api::RegisterUnsubscribe(&http_->router(), std::move(unsubscribe));
    }
    port = http_->port();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return port;
}

void Worker::Explain(absl::string_view site, std::vector<delivery::SiteSnapshot>* found) const {
  DCHECK(shard_->InLoopThread());
  if (delivery_ != nullptr) delivery_->Explain(site, found);
}

void Worker::Collect(metrics::ScrapeTotals* totals) const {
  DCHECK(shard_->InLoopThread());
  if (delivery_ != nullptr) delivery_->Collect(totals);
  int64_t inbound = 0;
  for (const auto& listener : listeners_) inbound += listener->open_connections();
  totals->connections[static_cast<size_t>(metrics::Direction::kInbound)] += inbound;
}

void Worker::BeginStop(absl::Duration grace) {
  if (!started_) return;
  // When the post fails the loop has ended already.
  shard_->Post([this, grace] { StopOnLoop(grace); });
}

void Worker::StopOnLoop(absl::Duration grace) {
  // What must close before the shard can end: the listeners, the HTTP server, the delivery.
  closing_ = 1 + static_cast<int>(listeners_.size()) + (http_ != nullptr ? 1 : 0);
  auto one_done = [this] {
    if (--closing_ > 0) return;
    // Not inside the last part's own callback: everything goes on the next turn.
    shard_->Post([this] { Teardown(); });
  };
  for (auto& listener : listeners_) listener->Close(grace, one_done);
  if (http_ != nullptr) http_->Close(one_done);
  delivery_->Shutdown(grace, one_done);
}

void Worker::RecordUnsubscribe(const bounce::UnsubscribeClaim& claim, absl::string_view peer) {
  DCHECK(shard_->InLoopThread());
  const smtp::Reply reply = smtp::MakeReply(200, "2.0.0", "unsubscribed (RFC 8058 one-click)");
  const std::string domain = smtp::DomainOf(claim.recipient);
  events::RecipientEvent event;
  event.type = events::EventType::kUnsubscribe;
  event.recipient = claim.recipient;
  event.domain = domain;
  event.reply = &reply;
  event.peer_address = peer;
  event.tenant = claim.tenant;
  event.campaign = claim.campaign;
  event.timestamp = shared_.context.clock->Now();
  event.created = event.timestamp;
  events_.OnEvent(event);
}

void Worker::Teardown() {
  listeners_.clear();
  http_.reset();
  http_injection_.reset();
  smtp_injections_.clear();
  auth_delays_.reset();
  intake_.reset();
  injector_.reset();
  shared_.router->Detach(static_cast<size_t>(shard_->index()));
  delivery_.reset();
  counters_.reset();
  loop_lag_.reset();
  shard_->CloseMailbox();
}

void Worker::Join() {
  if (started_) shard_->Join();
  started_ = false;
}

}  // namespace volley::daemon
