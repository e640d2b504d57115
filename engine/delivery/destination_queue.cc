#include "engine/delivery/destination_queue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/logging.h"
#include "engine/base/net_address.h"
#include "engine/delivery/delivery_shard.h"

namespace volley::delivery {
namespace {

// Recipients of one message for one destination go in one transaction, up to this many.
constexpr size_t kMaxRecipientsPerTransaction = 100;

}  // namespace

DestinationQueue::DestinationQueue(DeliveryShard* shard, std::string domain)
    : shard_(shard), domain_(std::move(domain)), site_(domain_) {}

DestinationQueue::~DestinationQueue() { *alive_ = false; }

void DestinationQueue::Add(RecipientPtr recipient) { ready_.push_back(std::move(recipient)); }

void DestinationQueue::Pump() {
  if (ready_.empty() || shutting_down_) return;
  const absl::Time now = shard_->context().clock->Now();
  if (targets_.empty() || now >= targets_expire_) {
    targets_.clear();
    if (!resolving_) Resolve();
    return;
  }
  // Work goes to idle connections first.
  while (!idle_.empty() && !ready_.empty()) {
    SmtpConnection* connection = idle_.back();
    idle_.pop_back();
    StartTransaction(connection);
  }
  // Then more connections, while the limit allows and each pending one would have work.
  const auto& shaping = shard_->context().config->shaping_default;
  while (!ready_.empty() && static_cast<int>(connections_.size()) < shaping.connection_limit &&
         connecting_.size() < ready_.size()) {
    SmtpConnection* connection =
        SmtpConnection::Start(shard_->loop(), this, targets_, shard_->connection_options());
    connections_.insert(connection);
    connecting_.insert(connection);
    shard_->metrics().AddConnection(Direction::kOutbound, 1);
  }
}

void DestinationQueue::Resolve() {
  const config::Config& config = *shard_->context().config;
  auto route = config.routes.find(domain_);
  std::weak_ptr<bool> alive = alive_;
  auto on_result = [this, alive](const dns::MxResult& result) {
    if (alive.expired()) return;
    resolving_ = false;
    OnResolved(result);
  };
  resolving_ = true;
  if (route != config.routes.end()) {
    const config::HostPort& host = route->second.host;
    site_ = absl::StrCat("route:", host.ToString());
    if (IsIpLiteral(host.host)) {
      targets_ = {ConnectTarget{host.host, host.host, host.port}};
      targets_expire_ = absl::InfiniteFuture();
      resolving_ = false;
      Pump();
      return;
    }
    shard_->resolver().ResolveHost(host.host, std::move(on_result));
    return;
  }
  shard_->resolver().Resolve(domain_, std::move(on_result));
}

void DestinationQueue::OnResolved(const dns::MxResult& result) {
  ShardMetrics& metrics = shard_->metrics();
  switch (result.outcome) {
    case dns::MxOutcome::kOk: {
      metrics.dns_lookups_ok.fetch_add(1, std::memory_order_relaxed);
      const config::Config& config = *shard_->context().config;
      auto route = config.routes.find(domain_);
      const uint16_t port =
          route != config.routes.end() ? route->second.host.port : config.delivery.port;
      targets_.clear();
      std::vector<std::string> names;
      for (const dns::MxHost& host : result.hosts) {
        names.push_back(host.name);
        for (const std::string& address : host.addresses) {
          targets_.push_back(ConnectTarget{host.name, address, port});
        }
      }
      if (route == config.routes.end()) {
        std::sort(names.begin(), names.end());
        site_ = absl::StrJoin(names, ",");
      }
      targets_expire_ = result.expires;
      if (targets_.empty()) {
        FailAllReady(smtp::MakeReply(451, "4.4.4", absl::StrCat("no address for ", domain_)),
                     "DNSFailure");
        return;
      }
      Pump();
      return;
    }
    case dns::MxOutcome::kNxDomain:
      metrics.dns_lookups_ok.fetch_add(1, std::memory_order_relaxed);
      FailAllReady(
          smtp::MakeReply(550, "5.1.2", absl::StrCat("domain ", domain_, " does not exist")),
          "BadDomain");
      return;
    case dns::MxOutcome::kNullMx:
      metrics.dns_lookups_ok.fetch_add(1, std::memory_order_relaxed);
      FailAllReady(
          smtp::MakeReply(556, "5.1.10",
                          absl::StrCat("domain ", domain_, " does not accept mail (null MX)")),
          "BadDomain");
      return;
    case dns::MxOutcome::kNoAddresses:
      metrics.dns_lookups_ok.fetch_add(1, std::memory_order_relaxed);
      FailAllReady(
          smtp::MakeReply(550, "5.1.2",
                          absl::StrCat("domain ", domain_, " has no MX or address records")),
          "BadDomain");
      return;
    case dns::MxOutcome::kTemporaryFailure:
      metrics.dns_lookups_failed.fetch_add(1, std::memory_order_relaxed);
      FailAllReady(
          smtp::MakeReply(451, "4.4.3",
                          absl::StrCat("DNS lookup for ", domain_, " failed: ", result.error)),
          "DNSFailure");
      return;
  }
}

void DestinationQueue::FailAllReady(const smtp::Reply& reply, absl::string_view classification) {
  std::deque<RecipientPtr> failed;
  failed.swap(ready_);
  shard_->metrics().AddQueue(QueueState::kReady, -static_cast<int64_t>(failed.size()));
  for (RecipientPtr& r : failed) {
    if (reply.IsPermanent()) {
      shard_->Bounce(std::move(r), reply, classification, site_);
    } else {
      shard_->TransientFailure(std::move(r), reply, std::nullopt, std::nullopt, site_,
                               classification);
    }
  }
  shard_->OnDestinationIdle(this);
}

void DestinationQueue::StartTransaction(SmtpConnection* connection) {
  std::vector<RecipientPtr> batch;
  const queue::MessageId id = ready_.front()->message->id;
  // The recipients of one message arrive together, so they sit next to each other.
  while (!ready_.empty() && ready_.front()->message->id == id &&
         batch.size() < kMaxRecipientsPerTransaction) {
    batch.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  ShardMetrics& metrics = shard_->metrics();
  metrics.AddQueue(QueueState::kReady, -static_cast<int64_t>(batch.size()));
  metrics.AddQueue(QueueState::kInFlight, static_cast<int64_t>(batch.size()));

  Transaction transaction;
  transaction.mail_from = batch.front()->message->sender;
  transaction.content = batch.front()->body;
  transaction.eight_bit = batch.front()->message->eight_bit;
  for (const RecipientPtr& r : batch) transaction.recipients.push_back(r->address);
  in_flight_[connection] = std::move(batch);
  connection->StartTransaction(std::move(transaction));
}

void DestinationQueue::OnConnectionReady(SmtpConnection* connection) {
  if (connecting_.erase(connection) > 0) {
    shard_->metrics().connections_opened_ok.fetch_add(1, std::memory_order_relaxed);
  }
  const int max_deliveries =
      shard_->context().config->shaping_default.max_deliveries_per_connection;
  if (shutting_down_ || connection->transactions() >= max_deliveries) {
    connection->Quit();
    return;
  }
  if (!ready_.empty()) {
    StartTransaction(connection);
    return;
  }
  // Nothing to send now: keep it for the next arrival until its idle timeout.
  if (std::find(idle_.begin(), idle_.end(), connection) == idle_.end()) {
    idle_.push_back(connection);
  }
}

void DestinationQueue::OnTransactionDone(SmtpConnection* connection,
                                         std::vector<RecipientOutcome> outcomes) {
  auto it = in_flight_.find(connection);
  CHECK(it != in_flight_.end());
  std::vector<RecipientPtr> batch = std::move(it->second);
  in_flight_.erase(it);
  CHECK(batch.size() == outcomes.size());
  shard_->metrics().AddQueue(QueueState::kInFlight, -static_cast<int64_t>(batch.size()));
  const DeliveryShard::Peer peer{connection->target().host_name, connection->target().address};
  for (size_t i = 0; i < batch.size(); ++i) {
    shard_->RecordOutcome(std::move(batch[i]), outcomes[i], peer, site_);
  }
}

void DestinationQueue::OnConnectionClosed(SmtpConnection* connection, CloseInfo info) {
  connections_.erase(connection);
  const bool never_ready = connecting_.erase(connection) > 0;
  idle_.erase(std::remove(idle_.begin(), idle_.end(), connection), idle_.end());
  ShardMetrics& metrics = shard_->metrics();
  metrics.AddConnection(Direction::kOutbound, -1);
  if (never_ready) metrics.connections_opened_failed.fetch_add(1, std::memory_order_relaxed);

  auto it = in_flight_.find(connection);
  if (it != in_flight_.end()) {
    std::vector<RecipientPtr> batch = std::move(it->second);
    in_flight_.erase(it);
    metrics.AddQueue(QueueState::kInFlight, -static_cast<int64_t>(batch.size()));
    const DeliveryShard::Peer peer{connection->target().host_name, connection->target().address};
    for (size_t i = 0; i < batch.size(); ++i) {
      RecipientOutcome outcome =
          i < info.in_flight.size()
              ? info.in_flight[i]
              : RecipientOutcome{smtp::MakeReply(451, "4.4.2", info.error), "", true};
      if (shutting_down_ && !outcome.reply.IsPositive() && !outcome.reply.IsPermanent()) {
        // Abandoned by the shutdown: it stays in the spool as it was and is tried again at
        // the next start, without counting an attempt.
        continue;
      }
      shard_->RecordOutcome(std::move(batch[i]), outcome, peer, site_);
    }
  }

  if (never_ready && connections_.empty() && !ready_.empty() && !shutting_down_) {
    // No host of the destination would take a session: the ready recipients wait for their
    // next retry rather than hammering the hosts.
    smtp::Reply reply = info.reply && !info.reply->IsPositive()
                            ? *info.reply
                            : smtp::MakeReply(451, "4.4.1", info.error);
    if (reply.IsPermanent()) {
      // A 5xx greeting from the last host tried is no verdict on the recipients: retry.
      reply = smtp::MakeReply(451, "4.4.1", info.error);
    }
    FailAllReady(reply, "NoAnswerFromHost");
  }
  if (shutting_down_ || ready_.empty()) {
    shard_->OnDestinationIdle(this);
    return;
  }
  Pump();
}

void DestinationQueue::BeginShutdown() {
  shutting_down_ = true;
  std::vector<SmtpConnection*> idle;
  idle.swap(idle_);
  for (SmtpConnection* connection : idle) connection->Quit();
  // Connections still connecting are of no use any more.
  std::vector<SmtpConnection*> connecting(connecting_.begin(), connecting_.end());
  for (SmtpConnection* connection : connecting) connection->Abort("shutting down");
  for (SmtpConnection* connection : connections_) connection->Quit();
  shard_->metrics().AddQueue(QueueState::kReady, -static_cast<int64_t>(ready_.size()));
  ready_.clear();
}

void DestinationQueue::AbortConnections() {
  std::vector<SmtpConnection*> open(connections_.begin(), connections_.end());
  for (SmtpConnection* connection : open) connection->Abort("shutting down");
}

}  // namespace volley::delivery
