#include "engine/delivery/site_queue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/logging.h"
#include "engine/base/net_address.h"
#include "engine/bounce/classifier.h"
#include "engine/delivery/delivery_shard.h"
#include "engine/smtp/local_replies.h"

namespace volley::delivery {
SiteQueue::SiteQueue(DeliveryShard* shard, std::string key) : shard_(shard), key_(std::move(key)) {}

SiteQueue::~SiteQueue() { *alive_ = false; }

void SiteQueue::Add(std::shared_ptr<const SiteRoute> route, std::vector<RecipientPtr> recipients) {
  route_ = std::move(route);
  for (RecipientPtr& r : recipients) {
    // Far from the front, a body is only memory: it is read again when its turn comes.
    if (ready_.size() >= kBodyWindow) r->body.reset();
    ready_.push_back(std::move(r));
  }
  Pump();
}

bool SiteQueue::FrontReady() {
  // Expired recipients at the front leave first (max_age holds in the ready state too).
  while (!ready_.empty() && shard_->ExpireIfDue(ready_.front())) {
    ready_.pop_front();
  }
  return !ready_.empty() && ready_.front()->body != nullptr;
}

void SiteQueue::EnsureBodies() {
  // Bodies for the transactions that can start soon: the messages at the front, two per
  // connection the site may have.
  const size_t window = 2 * static_cast<size_t>(shaping().connection_limit);
  size_t messages = 0;
  size_t scanned = 0;
  queue::MessageId last = 0;
  for (const RecipientPtr& r : ready_) {
    const queue::MessageId id = r->message->id;
    if (scanned++ == 0 || id != last) {
      if (++messages > window) break;
      last = id;
    }
    if (r->body != nullptr || !loading_.insert(id).second) continue;
    std::weak_ptr<bool> alive = alive_;
    shard_->LoadBody(
        id, [this, alive, id](const absl::StatusOr<std::shared_ptr<const std::string>>& body) {
          if (alive.expired()) return;
          loading_.erase(id);
          OnBodyLoaded(id, body);
        });
  }
}

void SiteQueue::OnBodyLoaded(queue::MessageId id,
                             const absl::StatusOr<std::shared_ptr<const std::string>>& body) {
  if (!body.ok()) {
    // The spool could not give it now: the recipients try again later; nothing is lost.
    std::deque<RecipientPtr> keep;
    std::vector<RecipientPtr> failed;
    for (RecipientPtr& r : ready_) {
      (r->message->id == id ? failed.emplace_back(std::move(r)) : keep.emplace_back(std::move(r)));
    }
    ready_.swap(keep);
    const smtp::Reply reply =
        smtp::MakeLocalReply(smtp::LocalReply::kSpoolReadFailed, body.status().message());
    for (RecipientPtr& r : failed) {
      shard_->TransientFailure(std::move(r), reply, std::nullopt, AttemptOf(nullptr),
                               bounce::BounceClass::kBadConfiguration);
    }
  } else {
    // The message's recipients sit together near the front.
    size_t seen = 0;
    for (RecipientPtr& r : ready_) {
      if (r->message->id == id && r->body == nullptr) r->body = *body;
      if (++seen > kBodyWindow) break;
    }
  }
  Pump();
}

void SiteQueue::ExpireReady() {
  std::deque<RecipientPtr> keep;
  size_t expired = 0;
  for (RecipientPtr& r : ready_) {
    if (shard_->ExpireIfDue(r)) {
      ++expired;
    } else {
      keep.push_back(std::move(r));
    }
  }
  ready_.swap(keep);
}

void SiteQueue::Pump() {
  if (ready_.empty() || shutting_down_ || route_ == nullptr) return;
  const config::ShapingConfig& limits = shaping();
  // Work goes to idle connections first, as soon as the message's body is at hand.
  while (!idle_.empty() && FrontReady()) {
    SmtpConnection* connection = idle_.back();
    idle_.pop_back();
    StartTransaction(connection);
  }
  EnsureBodies();
  // Then more connections, while the limit allows and each pending one would have a
  // transaction of its own.
  const size_t transactions = PendingTransactions(static_cast<size_t>(limits.connection_limit));
  if (ready_.empty() || static_cast<int>(connections_.size()) >= limits.connection_limit ||
      connecting_.size() >= transactions) {
    return;
  }
  // Hosts that just failed are left out for a while.
  std::vector<ConnectTarget> usable;
  for (const ConnectTarget& target : route_->targets) {
    if (!shard_->HostRecentlyFailed(target)) usable.push_back(target);
  }
  if (usable.empty()) {
    if (connections_.empty()) {
      FailAllReady(smtp::MakeLocalReply(smtp::LocalReply::kHostsFailedRecently, route_->name,
                                        absl::FormatDuration(DeliveryShard::kHostRetryDelay)),
                   bounce::BounceClass::kNoAnswerFromHost, /*permanent=*/false);
    }
    return;
  }
  while (!ready_.empty() && static_cast<int>(connections_.size()) < limits.connection_limit &&
         connecting_.size() < transactions) {
    StartConnection(usable);
  }
}

size_t SiteQueue::PendingTransactions(size_t cap) const {
  const config::ShapingConfig& limits = shaping();
  // Recipients of one message sit together and go in one transaction (up to the batch size).
  size_t transactions = 0;
  size_t in_batch = 0;
  queue::MessageId current = 0;
  for (const RecipientPtr& r : ready_) {
    if (transactions == 0 || r->message->id != current ||
        static_cast<int>(in_batch) >= limits.max_recipients_per_batch) {
      if (transactions == cap) break;
      ++transactions;
      current = r->message->id;
      in_batch = 0;
    }
    ++in_batch;
  }
  return transactions;
}

void SiteQueue::StartConnection(std::vector<ConnectTarget> targets) {
  const config::Config& config = *shard_->context().config;
  const config::ShapingConfig& limits = shaping();
  const config::Route* route = route_->route;
  ConnectionOptions options;
  options.protocol.ehlo_name = config.server.hostname;
  options.tls = route != nullptr && route->tls ? *route->tls : limits.tls;
  if (route != nullptr) {
    options.protocol.auth_user = route->auth_user;
    options.protocol.auth_password = route->auth_password;
    options.protocol.allow_auth_without_tls = route->allow_auth_without_tls;
  }
  if (options.tls != config::TlsPolicy::kDisabled) {
    absl::StatusOr<std::shared_ptr<tls::TlsContext>> context =
        shard_->TlsContextFor(limits.tls_ca_file);
    if (context.ok()) {
      options.tls_context = *std::move(context);
    } else {
      // Without a context TLS fails at the handshake, as a bad certificate would.
      LOG(ERROR) << "TLS client context for " << key_ << ": " << context.status();
    }
  }
  const config::EgressPool& pool = config.egress_pools.at(limits.egress_pool);
  const config::EgressSource& source = pool.sources[next_source_++ % pool.sources.size()];
  options.source_address = source.address;
  options.egress_pool = pool.name;
  options.egress_source = source.name;
  if (!source.ehlo.empty()) options.protocol.ehlo_name = source.ehlo;
  options.timeouts = limits.timeouts;

  SmtpConnection* connection =
      SmtpConnection::Start(shard_->loop(), this, std::move(targets), options);
  connections_.insert(connection);
  connecting_.insert(connection);
}

AttemptInfo SiteQueue::AttemptOf(const SmtpConnection* connection) const {
  AttemptInfo attempt;
  attempt.site = route_->name;
  if (connection == nullptr) {
    attempt.egress_pool = shaping().egress_pool;
    return attempt;
  }
  attempt.peer_name = connection->target().host_name;
  attempt.peer_address = connection->target().address;
  attempt.tls_version = connection->tls_version();
  attempt.tls_cipher = connection->tls_cipher();
  attempt.egress_pool = connection->options().egress_pool;
  attempt.egress_source = connection->options().egress_source;
  return attempt;
}

void SiteQueue::FailAllReady(const smtp::Reply& reply, bounce::BounceClass classification,
                             bool permanent) {
  std::deque<RecipientPtr> failed;
  failed.swap(ready_);
  const AttemptInfo attempt = AttemptOf(nullptr);
  for (RecipientPtr& r : failed) {
    if (permanent) {
      shard_->Bounce(std::move(r), reply, classification, attempt);
    } else {
      shard_->TransientFailure(std::move(r), reply, std::nullopt, attempt, classification);
    }
  }
  shard_->OnSiteIdle(this);
}

void SiteQueue::StartTransaction(SmtpConnection* connection) {
  const config::ShapingConfig& limits = shaping();
  std::vector<RecipientPtr> batch;
  const queue::MessageId id = ready_.front()->message->id;
  // The recipients of one message arrive together, so they sit next to each other.
  while (!ready_.empty() && ready_.front()->message->id == id &&
         static_cast<int>(batch.size()) < limits.max_recipients_per_batch) {
    batch.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }

  const MessageInfo& message = *batch.front()->message;
  smtp::Transaction transaction;
  transaction.mail_from = message.sender;
  transaction.content = batch.front()->body;
  transaction.eight_bit = message.eight_bit;
  transaction.smtputf8 = message.smtputf8;
  transaction.dsn_ret = message.dsn_ret;
  transaction.dsn_envid = message.dsn_envid;
  for (const RecipientPtr& r : batch) {
    transaction.recipients.push_back(
        smtp::TransactionRecipient{r->address, r->dsn_notify, r->dsn_orcpt});
  }
  in_flight_[connection] = std::move(batch);
  connection->StartTransaction(std::move(transaction));
}

void SiteQueue::OnConnectionReady(SmtpConnection* connection) {
  const config::ShapingConfig& limits = shaping();
  if (connecting_.erase(connection) > 0) {
    shard_->CountConnectionOpened(true);
  }
  if (shutting_down_ || connection->transactions() >= limits.max_deliveries_per_connection) {
    connection->Quit();
    return;
  }
  if (FrontReady()) {
    StartTransaction(connection);
    return;
  }
  // Nothing to send now (or the body is still being read): keep it for the next arrival until
  // its idle timeout.
  if (std::find(idle_.begin(), idle_.end(), connection) == idle_.end()) {
    idle_.push_back(connection);
  }
  EnsureBodies();
}

void SiteQueue::OnTransactionDone(SmtpConnection* connection,
                                  std::vector<smtp::RecipientOutcome> outcomes) {
  auto it = in_flight_.find(connection);
  CHECK(it != in_flight_.end());
  std::vector<RecipientPtr> batch = std::move(it->second);
  in_flight_.erase(it);
  CHECK(batch.size() == outcomes.size());
  const AttemptInfo attempt = AttemptOf(connection);
  std::vector<RecipientPtr> deferred;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (outcomes[i].deferred && !shutting_down_) {
      deferred.push_back(std::move(batch[i]));
      continue;
    }
    shard_->RecordOutcome(std::move(batch[i]), outcomes[i], attempt);
  }
  // "Too many recipients": they lead the next transaction, on this connection if it goes on.
  for (auto r = deferred.rbegin(); r != deferred.rend(); ++r) ready_.push_front(std::move(*r));
}

void SiteQueue::OnConnectionClosed(SmtpConnection* connection, CloseInfo info) {
  connections_.erase(connection);
  const bool never_ready = connecting_.erase(connection) > 0;
  idle_.erase(std::remove(idle_.begin(), idle_.end(), connection), idle_.end());
  if (never_ready) shard_->CountConnectionOpened(false);

  auto it = in_flight_.find(connection);
  if (it != in_flight_.end()) {
    std::vector<RecipientPtr> batch = std::move(it->second);
    in_flight_.erase(it);
    const AttemptInfo attempt = AttemptOf(connection);
    for (size_t i = 0; i < batch.size(); ++i) {
      smtp::RecipientOutcome outcome =
          i < info.in_flight.size()
              ? info.in_flight[i]
              : smtp::RecipientOutcome{
                    smtp::MakeLocalReply(smtp::LocalReply::kConnectionLost, info.error), "", true};
      if (shutting_down_ && !outcome.reply.IsPositive() && !outcome.reply.IsPermanent()) {
        // Abandoned by the shutdown: it stays in the spool as it was and is tried again at
        // the next start, without counting an attempt.
        continue;
      }
      shard_->RecordOutcome(std::move(batch[i]), outcome, attempt);
    }
  }

  if (never_ready && connections_.empty() && !ready_.empty() && !shutting_down_) {
    if (info.all_greetings_permanent && info.reply) {
      // Every host refused us outright at the greeting (RFC 5321 3.1: 554): a verdict on the
      // destination, so the recipients bounce.
      FailAllReady(*info.reply, bounce::BounceClass::kRoutingErrors, /*permanent=*/true);
    } else if (info.reply) {
      // A host answered but would not take a session (a 4xx greeting, a refused STARTTLS or
      // AUTH): its reply tells why, even a 5xx one such as 535 bad credentials, which is our
      // configuration to fix rather than the recipients' fault. They wait for their next retry.
      FailAllReady(*info.reply, bounce::Classify(*info.reply), /*permanent=*/false);
    } else {
      // No host answered at all.
      FailAllReady(smtp::MakeLocalReply(smtp::LocalReply::kNoAnswer, info.error),
                   bounce::BounceClass::kNoAnswerFromHost,
                   /*permanent=*/false);
    }
  }
  if (shutting_down_ || ready_.empty()) {
    shard_->OnSiteIdle(this);
    return;
  }
  Pump();
}

void SiteQueue::OnTargetFailed(const ConnectTarget& target) { shard_->MarkHostFailed(target); }

void SiteQueue::OnOpportunisticTlsFailed(const ConnectTarget& target) {
  shard_->MarkTlsFailed(target);
}

bool SiteQueue::SkipTlsWith(const ConnectTarget& target) {
  return shard_->TlsRecentlyFailed(target);
}

SSL_SESSION* SiteQueue::TlsSessionFor(const ConnectTarget& target) {
  auto it = tls_sessions_.find(target.address);
  return it == tls_sessions_.end() ? nullptr : it->second.get();
}

void SiteQueue::OnTlsSession(const ConnectTarget& target, bssl::UniquePtr<SSL_SESSION> session) {
  tls_sessions_[target.address] = std::move(session);
}

void SiteQueue::OnTlsHandshake(bool ok) { shard_->CountTlsHandshake(ok); }

void SiteQueue::BeginShutdown() {
  shutting_down_ = true;
  std::vector<SmtpConnection*> idle;
  idle.swap(idle_);
  for (SmtpConnection* connection : idle) connection->Quit();
  // Connections still connecting are of no use any more.
  std::vector<SmtpConnection*> connecting(connecting_.begin(), connecting_.end());
  for (SmtpConnection* connection : connecting) connection->Abort("shutting down");
  for (SmtpConnection* connection : connections_) connection->Quit();
  ready_.clear();
}

void SiteQueue::AbortConnections() {
  std::vector<SmtpConnection*> open(connections_.begin(), connections_.end());
  for (SmtpConnection* connection : open) connection->Abort("shutting down");
}

}  // namespace volley::delivery
