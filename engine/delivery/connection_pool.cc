#include "engine/delivery/connection_pool.h"

#include <algorithm>
#include <utility>

#include "engine/base/logging.h"

namespace volley::delivery {

ConnectionOptions ConnectionPool::OptionsFor(const SiteRoute& route, int source_index) {
  const config::Config& config = *services_->config;
  const config::ShapingConfig& limits = route.shaping->by_source[source_index];
  const config::Route* smarthost = route.route;
  ConnectionOptions options;
  options.protocol.ehlo_name = config.server.hostname;
  options.tls = smarthost != nullptr && smarthost->tls ? *smarthost->tls : limits.tls;
  if (smarthost != nullptr) {
    options.protocol.auth_user = smarthost->auth_user;
    options.protocol.auth_password = smarthost->auth_password;
    options.protocol.allow_auth_without_tls = smarthost->allow_auth_without_tls;
  }
  if (options.tls != config::TlsPolicy::kDisabled) {
    absl::StatusOr<std::shared_ptr<tls::TlsContext>> context =
        services_->tls->ContextFor(limits.tls_ca_file);
    if (context.ok()) {
      options.tls_context = *std::move(context);
    } else {
      // Without a context TLS fails at the handshake, as a bad certificate would.
      LOG(ERROR) << "TLS client context for " << route.key << ": " << context.status();
    }
  }
  const config::EgressPool& pool = *route.shaping->pool;
  const config::EgressSource& source = pool.sources[source_index];
  options.source_address = source.address;
  options.egress_pool = pool.name;
  options.egress_source = source.name;
  options.egress_source_index = source_index;
  if (!source.ehlo.empty()) options.protocol.ehlo_name = source.ehlo;
  options.timeouts = limits.timeouts;
  return options;
}

void ConnectionPool::Open(std::vector<ConnectTarget> targets, const SiteRoute& route,
                          int source_index) {
  DCHECK(thread_.InLoopThread());
  DeliveryConnection* connection = services_->connect(services_->loop, this, std::move(targets),
                                                      OptionsFor(route, source_index));
  connections_.insert(connection);
  connecting_.insert(connection);
}

void ConnectionPool::Start(DeliveryConnection* connection, std::vector<RecipientPtr> batch,
                           smtp::Transaction transaction) {
  DCHECK(thread_.InLoopThread());
  in_flight_[connection] = std::move(batch);
  connection->StartTransaction(std::move(transaction));
}

DeliveryConnection* ConnectionPool::PopIdle() {
  DCHECK(thread_.InLoopThread());
  if (idle_.empty()) return nullptr;
  DeliveryConnection* connection = idle_.back();
  idle_.pop_back();
  return connection;
}

void ConnectionPool::AddIdle(DeliveryConnection* connection) {
  DCHECK(thread_.InLoopThread());
  if (std::find(idle_.begin(), idle_.end(), connection) == idle_.end()) {
    idle_.push_back(connection);
  }
}

void ConnectionPool::QuitIdleIf(const std::function<bool(const DeliveryConnection&)>& quit) {
  DCHECK(thread_.InLoopThread());
  std::vector<DeliveryConnection*> quitting;
  auto kept = std::remove_if(idle_.begin(), idle_.end(), [&](DeliveryConnection* c) {
    if (!quit(*c)) return false;
    quitting.push_back(c);
    return true;
  });
  idle_.erase(kept, idle_.end());
  for (DeliveryConnection* connection : quitting) connection->Quit();
}

size_t ConnectionPool::in_flight_recipients() const {
  size_t n = 0;
  for (const auto& [connection, batch] : in_flight_) n += batch.size();
  return n;
}

void ConnectionPool::ForEachInFlight(const std::function<void(const QueuedRecipient&)>& fn) const {
  for (const auto& [connection, batch] : in_flight_) {
    for (const RecipientPtr& r : batch) fn(*r);
  }
}

void ConnectionPool::BeginShutdown() {
  DCHECK(thread_.InLoopThread());
  std::vector<DeliveryConnection*> idle;
  idle.swap(idle_);
  for (DeliveryConnection* connection : idle) connection->Quit();
  // Connections still connecting are of no use any more.
  std::vector<DeliveryConnection*> connecting(connecting_.begin(), connecting_.end());
  for (DeliveryConnection* connection : connecting) connection->Abort("shutting down");
  std::vector<DeliveryConnection*> open(connections_.begin(), connections_.end());
  for (DeliveryConnection* connection : open) connection->Quit();
}

void ConnectionPool::AbortAll(absl::string_view reason) {
  DCHECK(thread_.InLoopThread());
  std::vector<DeliveryConnection*> open(connections_.begin(), connections_.end());
  for (DeliveryConnection* connection : open) connection->Abort(reason);
}

void ConnectionPool::OnConnectionReady(DeliveryConnection* connection) {
  if (connecting_.erase(connection) > 0) {
    services_->metrics->connections_opened(true).Add(services_->shard);
  }
  listener_->OnReady(connection);
}

void ConnectionPool::OnTransactionDone(DeliveryConnection* connection,
                                       std::vector<smtp::RecipientOutcome> outcomes) {
  auto it = in_flight_.find(connection);
  CHECK(it != in_flight_.end());
  std::vector<RecipientPtr> batch = std::move(it->second);
  in_flight_.erase(it);
  CHECK(batch.size() == outcomes.size());
  listener_->OnDone(connection, std::move(batch), std::move(outcomes));
}

void ConnectionPool::OnConnectionClosed(DeliveryConnection* connection, CloseInfo info) {
  connections_.erase(connection);
  const bool never_ready = connecting_.erase(connection) > 0;
  idle_.erase(std::remove(idle_.begin(), idle_.end(), connection), idle_.end());
  if (never_ready) services_->metrics->connections_opened(false).Add(services_->shard);
  std::vector<RecipientPtr> batch;
  auto it = in_flight_.find(connection);
  if (it != in_flight_.end()) {
    batch = std::move(it->second);
    in_flight_.erase(it);
  }
  listener_->OnClosed(connection, never_ready, std::move(batch), std::move(info));
}

void ConnectionPool::OnTargetFailed(const ConnectTarget& target) {
  // The others with this host (the one that failed is among those counted): up, or still
  // starting, since a burst of new connections hears the refusals before the greetings of
  // those taken.
  int others = -1;
  int up = 0;
  for (DeliveryConnection* c : connections_) {
    if (c->target() != target) continue;
    ++others;
    up += !connecting_.contains(c);
  }
  if (others > 0) {
    // Busy, not down: skipping it would stop the sessions that work too. It takes the ones up
    // (or, while none is up yet, at most the others).
    listener_->OnHostBusy(target, up > 0 ? up : others);
    return;
  }
  services_->hosts->MarkFailed(target);
}

int ConnectionPool::OpenTo(const ConnectTarget& target) const {
  int open = 0;
  for (DeliveryConnection* c : connections_) open += c->target() == target;
  return open;
}

void ConnectionPool::OnOpportunisticTlsFailed(const ConnectTarget& target) {
  services_->hosts->MarkTlsFailed(target);
}

bool ConnectionPool::SkipTlsWith(const ConnectTarget& target) {
  return services_->hosts->TlsRecentlyFailed(target);
}

SSL_SESSION* ConnectionPool::TlsSessionFor(const ConnectTarget& target) {
  auto it = tls_sessions_.find(target.address);
  return it == tls_sessions_.end() ? nullptr : it->second.get();
}

void ConnectionPool::OnTlsSession(const ConnectTarget& target,
                                  bssl::UniquePtr<SSL_SESSION> session) {
  tls_sessions_[target.address] = std::move(session);
}

void ConnectionPool::OnTlsHandshake(bool ok) {
  services_->metrics->tls_handshakes(ok).Add(services_->shard);
}

}  // namespace volley::delivery
