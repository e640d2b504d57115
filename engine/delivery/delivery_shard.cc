#include "engine/delivery/delivery_shard.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/bounce/classifier.h"
#include "engine/delivery/dispatcher.h"
#include "engine/smtp/local_replies.h"

namespace volley::delivery {
namespace {

constexpr uint64_t kSweepIntervalMs = 60 * 1000;

std::vector<std::string> DnsServers(const config::Config& config) {
  std::vector<std::string> servers;
  for (const config::HostPort& server : config.dns.servers) servers.push_back(server.ToString());
  return servers;
}

}  // namespace

DeliveryShard::DeliveryShard(Shard* shard, const EngineContext& context)
    : shard_(shard), context_(context), events_(context.events) {}

void DeliveryShard::Collect(metrics::ScrapeTotals* totals) const {
  DCHECK(shard_->InLoopThread());
  int64_t ready = 0;
  int64_t in_flight = 0;
  int64_t connections = 0;
  for (const auto& [name, domain] : domains_)
    ready += static_cast<int64_t>(domain->pending_count());
  for (const auto& [key, site] : sites_) {
    ready += static_cast<int64_t>(site->ready_count());
    in_flight += static_cast<int64_t>(site->in_flight_count());
    connections += static_cast<int64_t>(site->connection_count());
  }
  totals->queue[static_cast<size_t>(metrics::QueueState::kScheduled)] +=
      static_cast<int64_t>(schedule_.size());
  totals->queue[static_cast<size_t>(metrics::QueueState::kReady)] += ready;
  totals->queue[static_cast<size_t>(metrics::QueueState::kInFlight)] += in_flight;
  totals->connections[static_cast<size_t>(metrics::Direction::kOutbound)] += connections;
  if (resolver_ != nullptr) totals->AddDns(resolver_->stats());
}

namespace {

std::string HostKey(const ConnectTarget& target) {
  return absl::StrCat(target.address, ":", target.port);
}

// True while `until` (if any) is in the future; forgets entries that have passed.
bool Active(absl::flat_hash_map<std::string, absl::Time>& map, const std::string& key,
            absl::Time now) {
  auto it = map.find(key);
  if (it == map.end()) return false;
  if (it->second > now) return true;
  map.erase(it);
  return false;
}

}  // namespace

bool DeliveryShard::HostRecentlyFailed(const ConnectTarget& target) {
  return Active(failed_hosts_, HostKey(target), context_.clock->Now());
}

void DeliveryShard::MarkHostFailed(const ConnectTarget& target) {
  failed_hosts_[HostKey(target)] = context_.clock->Now() + kHostRetryDelay;
}

bool DeliveryShard::TlsRecentlyFailed(const ConnectTarget& target) {
  return Active(no_tls_hosts_, HostKey(target), context_.clock->Now());
}

void DeliveryShard::MarkTlsFailed(const ConnectTarget& target) {
  no_tls_hosts_[HostKey(target)] = context_.clock->Now() + kNoTlsDelay;
}

absl::StatusOr<std::shared_ptr<tls::TlsContext>> DeliveryShard::TlsContextFor(
    const std::string& ca_file) {
  auto it = tls_contexts_.find(ca_file);
  if (it != tls_contexts_.end()) return it->second;
  tls::TlsContextOptions options;
  options.role = tls::TlsContextOptions::Role::kClient;
  options.ca_file = ca_file;
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(options);
  if (!context.ok()) return context.status();
  tls_contexts_.emplace(ca_file, *context);
  return *context;
}

DeliveryShard::~DeliveryShard() { *alive_ = false; }

absl::Status DeliveryShard::Init() {
  const config::DnsConfig& dns = context_.config->dns;
  dns::ResolverOptions options;
  options.servers = DnsServers(*context_.config);
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
  absl::StatusOr<std::unique_ptr<dns::MxResolver>> resolver =
      dns::MxResolver::Create(loop(), options, *context_.clock);
  if (!resolver.ok()) return resolver.status();
  resolver_ = std::move(*resolver);
  schedule_timer_ = new uv_timer_t;
  uv_timer_init(loop(), schedule_timer_);
  schedule_timer_->data = this;
  sweep_timer_ = new uv_timer_t;
  uv_timer_init(loop(), sweep_timer_);
  sweep_timer_->data = this;
  uv_timer_start(
      sweep_timer_, [](uv_timer_t* t) { static_cast<DeliveryShard*>(t->data)->SweepIdleQueues(); },
      kSweepIntervalMs, kSweepIntervalMs);
  // The sweep alone must not keep the loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(sweep_timer_));
  return absl::OkStatus();
}

void DeliveryShard::SweepIdleQueues() {
  // Runs from its own timer, never while a queue is on the stack or in to_flush_.
  for (auto& [key, site] : sites_) site->ExpireReady();
  absl::erase_if(domains_, [](const auto& entry) { return entry.second->Idle(); });
  absl::erase_if(sites_, [](const auto& entry) { return entry.second->Idle(); });
}

void DeliveryShard::Enqueue(std::vector<RecipientPtr> recipients) {
  if (shutting_down_) return;  // still in the spool; the next start delivers them
  const absl::Time now = context_.clock->Now();
  for (RecipientPtr& r : recipients) {
    if (r->due <= now) {
      MakeReady(std::move(r));
    } else {
      Schedule(std::move(r));
    }
  }
  FlushPumps();
}

void DeliveryShard::FlushPumps() {
  std::vector<DomainQueue*> domains;
  domains.swap(to_flush_);
  for (DomainQueue* domain : domains) domain->Flush();
  if (!outbox_.empty()) {
    std::vector<RecipientPtr> outbox;
    outbox.swap(outbox_);
    dispatcher_->Dispatch(std::move(outbox));
  }
}

bool DeliveryShard::OwnsDomain(absl::string_view domain) const {
  return dispatcher_->OwnerOf(domain) == static_cast<size_t>(shard_->index());
}

void DeliveryShard::SendToSite(std::shared_ptr<const SiteRoute> site,
                               std::vector<RecipientPtr> recipients) {
  DeliveryShard* owner = dispatcher_->shard(dispatcher_->OwnerOf(site->key));
  if (owner == this) {
    AddToSite(std::move(site), std::move(recipients));
    return;
  }
  const size_t count = recipients.size();
  // When the owner is shutting down they stay in the spool for the next start.
  owner->shard()->Post(
      [owner, site = std::move(site), recipients = std::move(recipients)]() mutable {
        owner->AddToSite(std::move(site), std::move(recipients));
      });
}

void DeliveryShard::AddToSite(std::shared_ptr<const SiteRoute> site,
                              std::vector<RecipientPtr> recipients) {
  if (shutting_down_) {
    return;
  }
  const std::string& key = site->key;
  Site(key).Add(std::move(site), std::move(recipients));
}

void DeliveryShard::Schedule(RecipientPtr recipient) {
  // A recipient waiting for a retry does not need its body in memory meanwhile.
  recipient->body.reset();
  const absl::Time due = recipient->due;
  schedule_.push_back(Scheduled{due, sequence_++, std::move(recipient)});
  std::push_heap(schedule_.begin(), schedule_.end(), LaterFirst());
  if (due < timer_due_) ArmScheduleTimer();
}

void DeliveryShard::ArmScheduleTimer() {
  // After Shutdown the timer is stopped (and later closed): leave it alone.
  if (shutting_down_) return;
  if (schedule_.empty()) {
    uv_timer_stop(schedule_timer_);
    timer_due_ = absl::InfiniteFuture();
    return;
  }
  timer_due_ = schedule_.front().due;
  const absl::Duration wait = timer_due_ - context_.clock->Now();
  const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(wait) + 1);
  uv_timer_start(
      schedule_timer_,
      [](uv_timer_t* t) { static_cast<DeliveryShard*>(t->data)->OnScheduleTimer(); },
      static_cast<uint64_t>(ms), 0);
}

void DeliveryShard::OnScheduleTimer() {
  timer_due_ = absl::InfiniteFuture();
  const absl::Time now = context_.clock->Now();
  while (!schedule_.empty() && schedule_.front().due <= now && !shutting_down_) {
    std::pop_heap(schedule_.begin(), schedule_.end(), LaterFirst());
    RecipientPtr r = std::move(schedule_.back().recipient);
    schedule_.pop_back();
    MakeReady(std::move(r));
  }
  FlushPumps();
  ArmScheduleTimer();
}

void DeliveryShard::MakeReady(RecipientPtr recipient) {
  if (!OwnsDomain(recipient->domain)) {
    // A retry that came due here for a domain another shard resolves.
    outbox_.push_back(std::move(recipient));
    return;
  }
  if (ExpireIfDue(recipient)) return;
  // The body is read only when a connection is about to send it (SiteQueue), so recipients
  // waiting in ready queues cost little memory.
  const std::string domain = recipient->domain;
  DomainQueue& queue = Domain(domain);
  queue.Add(std::move(recipient));
  if (std::find(to_flush_.begin(), to_flush_.end(), &queue) == to_flush_.end()) {
    to_flush_.push_back(&queue);
  }
}

bool DeliveryShard::ExpireIfDue(RecipientPtr& recipient) {
  const absl::Time expires = recipient->message->created + context_.config->delivery.max_age;
  if (context_.clock->Now() < expires) return false;
  const smtp::Reply reply =
      recipient->last_response.empty()
          ? smtp::MakeLocalReply(smtp::LocalReply::kExpired)
          : smtp::MakeLocalReply(smtp::LocalReply::kExpiredAfterError, recipient->last_response);
  Expire(std::move(recipient), reply, std::nullopt, Attempt{}, /*remote_reply=*/false);
  return true;
}

void DeliveryShard::LoadBody(queue::MessageId id, BodyCallback callback) {
  auto [it, first] = body_waiters_.try_emplace(id);
  it->second.push_back(std::move(callback));
  if (!first) return;  // one read serves everybody waiting for this message
  ++body_loads_in_flight_;
  std::weak_ptr<bool> alive = alive_;
  queue::Spool* spool = context_.spool;
  Shard* shard = shard_;
  context_.io_pool->Run([this, alive, spool, shard, id]() {
    absl::StatusOr<std::string> body = spool->ReadBody(id);
    shard->Post([this, alive, id, body = std::move(body)]() mutable {
      if (alive.expired()) return;
      OnBodyLoaded(id, std::move(body));
    });
  });
}

void DeliveryShard::OnBodyLoaded(queue::MessageId id, absl::StatusOr<std::string> body) {
  --body_loads_in_flight_;
  auto it = body_waiters_.find(id);
  if (it != body_waiters_.end()) {
    std::vector<BodyCallback> callbacks = std::move(it->second);
    body_waiters_.erase(it);
    absl::StatusOr<std::shared_ptr<const std::string>> shared =
        body.ok() ? absl::StatusOr<std::shared_ptr<const std::string>>(
                        std::make_shared<const std::string>(*std::move(body)))
                  : absl::StatusOr<std::shared_ptr<const std::string>>(body.status());
    if (!body.ok()) {
      LOG(ERROR) << "cannot load message " << queue::FormatQueueId(id) << ": " << body.status();
    }
    for (BodyCallback& callback : callbacks) callback(shared);
  }
  MaybeFinishShutdown();
}

DomainQueue& DeliveryShard::Domain(const std::string& domain) {
  auto it = domains_.find(domain);
  if (it == domains_.end()) {
    it = domains_.emplace(domain, std::make_unique<DomainQueue>(this, domain)).first;
  }
  return *it->second;
}

SiteQueue& DeliveryShard::Site(const std::string& key) {
  auto it = sites_.find(key);
  if (it == sites_.end()) it = sites_.emplace(key, std::make_unique<SiteQueue>(this, key)).first;
  return *it->second;
}

void DeliveryShard::Emit(events::EventType type, const QueuedRecipient& r, const smtp::Reply& reply,
                         bool remote_reply, const std::optional<std::string>& command,
                         const Attempt& attempt, std::optional<bounce::BounceClass> classification,
                         bool expired) {
  const MessageInfo& message = *r.message;
  events::RecipientEvent event;
  event.type = type;
  event.queue_id = message.queue_id;
  event.sender = message.sender;
  event.recipient = r.address;
  event.domain = r.domain;
  event.site = attempt.site;
  event.size = message.size;
  event.num_attempts = r.attempts;
  event.reply = &reply;
  event.remote_reply = remote_reply;
  if (command) event.command = *command;
  if (attempt.peer_name) event.peer_name = *attempt.peer_name;
  if (attempt.peer_address) event.peer_address = *attempt.peer_address;
  event.egress_pool = attempt.egress_pool;
  event.egress_source = attempt.egress_source;
  event.tls_version = attempt.tls_version;
  event.tls_cipher = attempt.tls_cipher;
  event.classification = classification;
  event.expired = expired;
  event.message_id = message.message_id;
  event.timestamp = context_.clock->Now();
  event.created = message.created;
  events_->OnEvent(event);
}

void DeliveryShard::RecordOutcome(RecipientPtr recipient, const smtp::RecipientOutcome& outcome,
                                  const Attempt& attempt) {
  const smtp::Reply& reply = outcome.reply;
  const bool remote = !outcome.synthetic;
  std::optional<std::string> command;
  if (!outcome.command.empty()) command = outcome.command;
  if (reply.code / 100 == 2) {
    ++recipient->attempts;
    Emit(events::EventType::kDelivery, *recipient, reply, remote, command, attempt, std::nullopt);
    context_.writer->RecipientDone(recipient->message->id, recipient->index, recipient->due);
    return;
  }
  const bounce::BounceClass classification = bounce::Classify(reply);
  if (reply.IsPermanent()) {
    ++recipient->attempts;
    Emit(events::EventType::kBounce, *recipient, reply, remote, command, attempt, classification);
    context_.writer->RecipientDone(recipient->message->id, recipient->index, recipient->due);
    return;
  }
  TransientFailure(std::move(recipient), reply, command, attempt, classification, remote);
}

void DeliveryShard::Bounce(RecipientPtr recipient, const smtp::Reply& reply,
                           bounce::BounceClass classification, const Attempt& attempt) {
  ++recipient->attempts;
  Emit(events::EventType::kBounce, *recipient, reply, /*remote_reply=*/false, std::nullopt, attempt,
       classification);
  context_.writer->RecipientDone(recipient->message->id, recipient->index, recipient->due);
}

void DeliveryShard::TransientFailure(RecipientPtr recipient, const smtp::Reply& reply,
                                     std::optional<std::string> command, const Attempt& attempt,
                                     bounce::BounceClass classification, bool remote_reply) {
  const config::DeliveryConfig& delivery = context_.config->delivery;
  const absl::Time now = context_.clock->Now();
  ++recipient->attempts;
  // Exponential backoff from retry_initial, doubling up to retry_max, with +-10% jitter so
  // that a burst of failures does not come back as a burst.
  absl::Duration delay = delivery.retry_initial;
  for (uint32_t i = 1; i < recipient->attempts && delay < delivery.retry_max; ++i) delay *= 2;
  delay = std::min(delay, delivery.retry_max);
  delay *= absl::Uniform(rng_, 0.9, 1.1);
  const absl::Time expires = recipient->message->created + delivery.max_age;
  if (now + delay >= expires) {
    Expire(std::move(recipient), reply, command, attempt, remote_reply);
    return;
  }
  Emit(events::EventType::kTransientFailure, *recipient, reply, remote_reply, command, attempt,
       classification);
  const absl::Time old_due = recipient->due;
  recipient->due = now + delay;
  recipient->last_response = absl::StrCat(reply.code, " ", reply.Text());
  queue::RecipientRecord record;
  record.index = recipient->index;
  record.address = recipient->address;
  record.attempts = recipient->attempts;
  record.next_due = recipient->due;
  record.last_response = recipient->last_response;
  record.dsn_notify = recipient->dsn_notify;
  record.dsn_orcpt = recipient->dsn_orcpt;
  // A retry due soon stays in memory; a later one lives only in the spool until the writer's
  // loader reads it back, so memory does not grow with the number of waiting recipients.
  const bool keep = delay <= context_.memory_horizon;
  context_.writer->Reschedule(recipient->message->id, std::move(record), old_due, keep);
  if (keep) Schedule(std::move(recipient));
}

void DeliveryShard::Expire(RecipientPtr recipient, const smtp::Reply& reply,
                           std::optional<std::string> command, const Attempt& attempt,
                           bool remote_reply) {
  Emit(events::EventType::kExpiration, *recipient, reply, remote_reply, command, attempt,
       bounce::BounceClass::kMessageExpired);
  const smtp::Reply expired =
      smtp::MakeLocalReply(smtp::LocalReply::kExpiredBounce, recipient->attempts,
                           absl::StrCat(reply.code, " ", reply.Text()));
  Emit(events::EventType::kBounce, *recipient, expired, /*remote_reply=*/false, command, attempt,
       bounce::BounceClass::kMessageExpired, /*expired=*/true);
  context_.writer->RecipientDone(recipient->message->id, recipient->index, recipient->due);
}

void DeliveryShard::OnSiteIdle(SiteQueue*) { MaybeFinishShutdown(); }

void DeliveryShard::Shutdown(absl::Duration grace, absl::AnyInvocable<void()> done) {
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  // Scheduled and waiting recipients are in the spool already; drop the in-memory copies.
  schedule_.clear();
  uv_timer_stop(schedule_timer_);
  uv_timer_stop(sweep_timer_);
  for (auto& [domain, queue] : domains_) queue->BeginShutdown();
  for (auto& [key, site] : sites_) site->BeginShutdown();
  outbox_.clear();

  grace_timer_ = new uv_timer_t;
  uv_timer_init(loop(), grace_timer_);
  grace_timer_->data = this;
  uv_timer_start(
      grace_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<DeliveryShard*>(t->data);
        for (auto& [key, site] : self->sites_) site->AbortConnections();
      },
      static_cast<uint64_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(grace))), 0);
  MaybeFinishShutdown();
}

void DeliveryShard::MaybeFinishShutdown() {
  if (!shutting_down_ || !shutdown_done_ || body_loads_in_flight_ > 0) return;
  for (const auto& [key, site] : sites_) {
    if (site->connection_count() > 0) return;
  }
  if (resolver_closed_) return;  // already closing
  resolver_closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(grace_timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(schedule_timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(sweep_timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  resolver_->Shutdown([this] {
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  });
}

}  // namespace volley::delivery
