#include "engine/delivery/site_queue.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/delivery/host_health.h"
#include "engine/delivery/outgoing_transaction.h"
#include "engine/smtp/local_replies.h"

namespace volley::delivery {
namespace {

bool SamePool(const config::EgressPool& a, const config::EgressPool& b) {
  if (a.sources.size() != b.sources.size()) return false;
  for (size_t i = 0; i < a.sources.size(); ++i) {
    if (a.sources[i].name != b.sources[i].name || a.sources[i].address != b.sources[i].address) {
      return false;
    }
  }
  return true;
}

}  // namespace

SiteQueue::SiteQueue(const ShardServices* services, std::string key)
    : services_(services),
      key_(std::move(key)),
      pool_(services, this),
      wake_(services->loop, [this] { Pump(); }) {
  // A shared budget that refused the site wakes it on a later loop turn.
  shaper_.Bind(services->shared_limits, liveness_.Guard([this] {
    const absl::Time now = services_->clock->Now();
    WakeAt(now, now);
  }));
}

SiteQueue::~SiteQueue() = default;

void SiteQueue::Add(std::shared_ptr<const SiteRoute> route, std::vector<RecipientPtr> recipients) {
  DCHECK(thread_.InLoopThread());
  UseRoute(std::move(route));
  const absl::Time now = services_->clock->Now();
  if (hold_.Stale(services_->suspensions.get(), now)) ApplySuspensionsAt(now);
  for (RecipientPtr& r : recipients) {
    if (hold_.HoldIfSuspended(r, site_name(), now)) continue;
    // Far from the front of its lane, a body is only memory: it is read again when its turn
    // comes.
    std::shared_ptr<const std::string> body = std::move(r->body);
    size_t lane_size = 0;
    QueuedRecipient* added = r.get();
    ready_.Push(std::move(r), &lane_size);
    if (lane_size < kBodyWindow) added->body = std::move(body);
  }
  BounceWaiting(now);  // a Bounce rule's window takes what arrives too
  Pump();
}

void SiteQueue::Reconfigure() {
  DCHECK(thread_.InLoopThread());
  if (route_ == nullptr || shutting_down_) return;
  // Each domain waiting here is made again under the new config from the resolution it came
  // with; those whose site key changed (a route, a provider or tables of their own appeared or
  // went) move on.
  absl::flat_hash_map<std::string, std::shared_ptr<const SiteRoute>> remade;
  std::shared_ptr<const SiteRoute> kept;
  // A domain whose route host changed is resolved again, even when it keeps its queue.
  auto same_host = [&](const std::string& domain) {
    const config::Route* before = RouteFor(*route_->config, domain);
    const config::Route* now = RouteFor(*services_->config, domain);
    if (before == nullptr || now == nullptr) return before == now;
    return before->host.host == now->host.host;
  };
  auto stays = [&](const std::string& domain) {
    auto [it, inserted] = remade.try_emplace(domain);
    if (inserted && same_host(domain)) {
      it->second = MakeSiteRoute(services_->config, domain, route_->resolution);
    }
    if (it->second == nullptr || it->second->key != key_) return false;
    if (kept == nullptr) kept = it->second;
    return true;
  };
  std::vector<RecipientPtr> moved;
  for (ReadyQueue* queue : {&ready_, &hold_.held()}) {
    queue->Filter([&](RecipientPtr& r) {
      if (stays(r->domain)) return true;
      moved.push_back(std::move(r));
      return false;
    });
  }
  if (kept != nullptr || stays(route_->domain)) UseRoute(std::move(kept));
  if (!moved.empty()) services_->send_to_domains(std::move(moved));
  Pump();
}

void SiteQueue::UseRoute(std::shared_ptr<const SiteRoute> route) {
  if (route == route_) return;
  const bool first = route_ == nullptr;
  const bool same_targets = !first && route_->targets == route->targets;
  const bool same_config = !first && route_->config == route->config;
  const bool same_pool =
      same_config || (!first && SamePool(*route_->shaping->pool, *route->shaping->pool));
  route_ = std::move(route);
  RecomputeLimits();
  hold_.Invalidate();  // the site's name or its sources may have changed
  if (first || (same_config && same_targets)) return;
  if (!same_targets) check_targets_ = true;
  if (!same_pool) check_sources_ = true;
  // A reload may have taken a source from the pool or a host from the route (or a new answer
  // a host from the MX set): connections from or to there are done once idle.
  pool_.QuitIdleIf([this](const DeliveryConnection& c) { return !Current(c); });
}

bool SiteQueue::Current(const DeliveryConnection& connection) const {
  const ConnectionOptions& options = connection.options();
  if (!shaper_.HasSource(options.egress_source_index)) return false;
  if (check_sources_) {
    // Sources are counted by their place in the pool; a reload may have put another there.
    const config::EgressSource& source =
        route_->shaping->pool->sources[options.egress_source_index];
    if (source.name != options.egress_source || source.address != options.source_address) {
      return false;
    }
  }
  if (!check_targets_) return true;
  const ConnectTarget& target = connection.target();
  return std::find(route_->targets.begin(), route_->targets.end(), target) != route_->targets.end();
}

bool SiteQueue::FrontReady() {
  // Expired recipients at the front leave first (max_age holds in the ready state too).
  for (RecipientPtr* front = ready_.Front(); front != nullptr; front = ready_.Front()) {
    if (!services_->recorder->ExpireIfDue(*front)) return (*front)->body != nullptr;
    ready_.PopFront();
  }
  return false;
}

void SiteQueue::EnsureBodies() {
  // Bodies for the transactions that can start soon.
  ready_.ForEachUpcoming(ReadAheadMessages(), [&](QueuedRecipient& r) {
    const queue::MessageId id = r.message->id;
    if (r.body != nullptr || !loading_.insert(id).second) return;
    services_->bodies->Load(id, liveness_.Guard([this, id](const BodyLoader::Body& body) {
      loading_.erase(id);
      OnBodyLoaded(id, body);
    }));
  });
}

void SiteQueue::OnBodyLoaded(queue::MessageId id, const BodyLoader::Body& body) {
  if (!body.ok()) {
    // The spool could not give it now: the recipients try again later; nothing is lost.
    std::vector<RecipientPtr> failed;
    ready_.Filter([&](RecipientPtr& r) {
      if (r->message->id != id) return true;
      failed.push_back(std::move(r));
      return false;
    });
    const smtp::Reply reply =
        smtp::MakeLocalReply(smtp::LocalReply::kSpoolReadFailed, body.status().message());
    for (RecipientPtr& r : failed) {
      services_->recorder->Defer(std::move(r), reply, std::nullopt, AttemptOf(nullptr),
                                 bounce::BounceClass::kBadConfiguration);
    }
  } else {
    // It was read for one of the messages served soon; if others came before it since, it is
    // read again when its turn comes.
    ready_.ForEachUpcoming(ReadAheadMessages(), [&](QueuedRecipient& r) {
      if (r.message->id == id && r.body == nullptr) r.body = *body;
    });
  }
  Pump();
}

void SiteQueue::ExpireReady() {
  DCHECK(thread_.InLoopThread());
  for (ReadyQueue* queue : {&ready_, &hold_.held()}) {
    queue->Filter([this](RecipientPtr& r) { return !services_->recorder->ExpireIfDue(r); });
  }
}

void SiteQueue::ApplySuspensions() {
  DCHECK(thread_.InLoopThread());
  if (route_ == nullptr || shutting_down_) return;
  ApplySuspensionsAt(services_->clock->Now());
  Pump();
}

void SiteQueue::ApplySuspensionsAt(absl::Time now) {
  const bool any_paused = hold_.Apply(services_->suspensions.get(), site_name(),
                                      route_->shaping->pool->sources, shaper_, ready_, now);
  // No connection stays open for held mail alone, nor from a paused source.
  const bool only_held = OnlyHeld();
  if (any_paused || only_held) {
    pool_.QuitIdleIf([this, only_held](const DeliveryConnection& c) {
      const int source = c.options().egress_source_index;
      return only_held || (shaper_.HasSource(source) && shaper_.paused(source));
    });
  }
  WakeAt(hold_.change_at(), now);
}

void SiteQueue::Pump() {
  if (shutting_down_ || route_ == nullptr) return;
  const absl::Time now = services_->clock->Now();
  if (hold_.Stale(services_->suspensions.get(), now)) ApplySuspensionsAt(now);
  if (now >= automation_.next_change()) ExpireAutomation(now);
  // A shared budget that sites wait for (here or elsewhere) gets back the slots idle
  // connections hold.
  if (shaper_.has_shared_limits()) {
    pool_.QuitIdleIf([this](const DeliveryConnection& c) {
      return shaper_.Contended(c.options().egress_source_index);
    });
  }
  if (ready_.empty()) return;
  // Work goes to idle connections first, as soon as the message's body is at hand.
  while (FrontReady()) {
    DeliveryConnection* connection = pool_.PopIdle();
    if (connection == nullptr) break;
    if (!SendOrWait(connection, now)) break;
  }
  EnsureBodies();
  OpenConnections(now);
}

bool SiteQueue::SendOrWait(DeliveryConnection* connection, absl::Time now) {
  const shaping::Admission admission =
      shaper_.AdmitMessage(connection->options().egress_source_index, now);
  if (!admission.go() && admission.limit() == shaping::kWarmup) {
    connection->Quit();
    NoteHeldBack(admission);
    WakeAt(admission.not_before(), now);
    return true;
  }
  if (!admission.go()) {
    // The message rate holds the site back: the connection waits (until its idle timeout at
    // most) and the site wakes when the rate allows the next message.
    pool_.AddIdle(connection);
    NoteHeldBack(admission);
    WakeAt(admission.not_before(), now);
    return false;
  }
  StartTransaction(connection);
  return true;
}

void SiteQueue::WakeAt(absl::Time when, absl::Time now) {
  if (when == absl::InfiniteFuture()) return;
  if (wake_.active() && wake_at_ <= when) return;
  wake_at_ = when;
  wake_.Start(when - now);
}

void SiteQueue::OpenConnections(absl::Time now) {
  if (ready_.empty()) return;
  // More connections while the shaper allows and each pending one would have a transaction of
  // its own, which the message rate lets it send now.
  const size_t transactions =
      std::min<uint64_t>(PendingTransactions(static_cast<size_t>(shaper_.connection_limit())),
                         shaper_.MessagesAvailable(now));
  if (transactions == 0) {
    // Connections that are open wake the site when they are ready for more; with none, the
    // site wakes when the rate allows the next message.
    const shaping::Admission next = shaper_.NextMessage(now);
    NoteHeldBack(next);
    if (pool_.size() == 0) WakeAt(next.not_before(), now);
    return;
  }
  if (pool_.connecting() >= transactions) return;
  if (static_cast<int>(pool_.size()) >= shaper_.connection_limit()) {
    // Every connection is busy (work went to the idle ones first) and no other may open.
    if (pool_.idle_count() == 0 && FrontReady()) {
      NoteHeldBack(
          shaping::Admission::NotBefore(absl::InfiniteFuture(), shaping::kConnectionLimit));
    }
    return;
  }
  absl::Time retry_at = absl::InfiniteFuture();
  int room = 0;
  const std::vector<ConnectTarget> usable = UsableTargets(now, &retry_at, &room);
  if (usable.empty()) {
    // Every host failed just now or takes no more connections. That is no attempt, so none is
    // counted: the site tries again when a host's pause ends, or when a connection frees up.
    WakeAt(retry_at, now);
    return;
  }
  while (!ready_.empty() && pool_.connecting() < transactions && room-- > 0) {
    int source = 0;
    const shaping::Admission admission = shaper_.AdmitConnection(now, &source);
    if (!admission.go()) {
      NoteHeldBack(admission);
      WakeAt(admission.not_before(), now);
      return;
    }
    pool_.Open(usable, *route_, source);
  }
}

std::vector<ConnectTarget> SiteQueue::UsableTargets(absl::Time now, absl::Time* retry_at,
                                                    int* room) const {
  std::vector<ConnectTarget> usable;
  const bool capped = feedback_.any_host_cap(now);
  *room = capped ? 0 : std::numeric_limits<int>::max();
  for (const ConnectTarget& target : route_->targets) {
    // Hosts that just failed are left out for a while.
    if (services_->hosts->RecentlyFailed(target)) {
      *retry_at = std::min(*retry_at, services_->hosts->FailedUntil(target));
      continue;
    }
    if (capped) {
      // A host that said it takes no more gets no more (until its cap lapses).
      const int open = pool_.OpenTo(target);
      if (feedback_.HostFull(target, open, now)) continue;
      *room += 1;
    }
    usable.push_back(target);
  }
  return usable;
}

size_t SiteQueue::PendingTransactions(size_t cap) const {
  // Recipients of one message sit together and go in one transaction (up to the batch size).
  return ready_.CountTransactions(cap, route_->shaping->site.max_recipients_per_batch);
}

AttemptInfo SiteQueue::AttemptOf(const DeliveryConnection* connection) const {
  AttemptInfo attempt;
  attempt.site = route_->name;
  if (connection == nullptr) {
    attempt.egress_pool = route_->shaping->site.egress_pool;
    return attempt;
  }
  attempt.peer_name = connection->target().host_name;
  attempt.peer_address = connection->target().address;
  attempt.tls_version = connection->tls_version();
  attempt.tls_cipher = connection->tls_cipher();
  attempt.egress_pool = connection->options().egress_pool;
  attempt.egress_source = connection->options().egress_source;
  attempt.peer_offers_dsn = connection->offers_dsn();
  return attempt;
}

void SiteQueue::FailAllReady(const smtp::Reply& reply, bounce::BounceClass classification,
                             bool permanent) {
  std::vector<RecipientPtr> failed = ready_.TakeAll();
  const AttemptInfo attempt = AttemptOf(nullptr);
  for (RecipientPtr& r : failed) {
    if (permanent) {
      services_->recorder->Bounce(std::move(r), reply, classification, attempt);
    } else {
      services_->recorder->Defer(std::move(r), reply, std::nullopt, attempt, classification);
    }
  }
  services_->on_site_idle();
}

void SiteQueue::NoteHeldBack(const shaping::Admission& admission) {
  if (admission.go()) return;
  held_by_.assign(admission.limit().data(), admission.limit().size());
  held_until_ = admission.not_before();
  const RecipientPtr* front = ready_.Front();
  if (front == nullptr || (*front)->message->id == last_delayed_) return;
  last_delayed_ = (*front)->message->id;
  for (metrics::ThrottleCounts* counts : {&throttled_, services_->throttled_total}) {
    if (counts == nullptr) continue;
    auto it = counts->find(held_by_);
    if (it == counts->end()) it = counts->emplace(held_by_, 0).first;
    ++it->second;
  }
}

void SiteQueue::Collect(metrics::SiteTotals* site, metrics::SiteScrape* scrape) const {
  site->ready += static_cast<int64_t>(ready_count());
  site->in_flight += static_cast<int64_t>(pool_.in_flight_recipients());
  site->connections += static_cast<int64_t>(pool_.size());
  for (const auto& [limit, n] : throttled_) site->throttled[limit] += n;
  if (!ready_.empty() && !held_by_.empty()) ++site->held_back[held_by_];
  if (!hold_.held().empty()) ++site->held_back[std::string(shaping::kSuspension)];
  for (const ReadyQueue* queue : {&ready_, &hold_.held()}) {
    queue->ForEach([scrape](const QueuedRecipient& r) {
      ++scrape->tenants[{r.message->tenant, r.message->campaign}].ready;
    });
  }
  pool_.ForEachInFlight([scrape](const QueuedRecipient& r) {
    ++scrape->tenants[{r.message->tenant, r.message->campaign}].in_flight;
  });
}

SiteSnapshot SiteQueue::Snapshot() const {
  SiteSnapshot snapshot;
  snapshot.key = key_;
  snapshot.name = name();
  snapshot.ready = ready_count();
  snapshot.in_flight = pool_.in_flight_recipients();
  snapshot.connections = pool_.size();
  if (!ready_.empty()) {
    snapshot.held_by = held_by_;
    snapshot.held_until = held_until_;
  }
  snapshot.route = route_;
  if (route_ != nullptr) {
    for (size_t i = 0; i < route_->shaping->by_source.size(); ++i) {
      const int source = static_cast<int>(i);
      snapshot.open_by_source.push_back(shaper_.HasSource(source) ? shaper_.open_connections(source)
                                                                  : 0);
    }
  }
  snapshot.throttled = throttled_;
  snapshot.suspended = hold_.held().size();
  snapshot.effective = effective_;
  if (route_ != nullptr)
    snapshot.overrides = automation_.OverridesJson(route_->shaping->pool->sources);
  snapshot.adaptive = control_.Json(services_->clock->Now());
  snapshot.warmup = warmup_.Json(services_->clock->Now());
  snapshot.next_change =
      std::min({automation_.next_change(), control_.NextIncrease(services_->clock->Now()),
                warmup_.NextOpening(services_->clock->Now())});
  const absl::Time now = services_->clock->Now();
  for (const adaptive::Suspension* s :
       services_->suspensions->Concerning(adaptive::SiteName{name(), key_}, now)) {
    snapshot.suspensions.push_back(adaptive::SuspensionJson(*s, now));
  }
  return snapshot;
}

void SiteQueue::StartTransaction(DeliveryConnection* connection) {
  held_by_.clear();
  std::vector<RecipientPtr> batch = ready_.TakeTransaction(RecipientsPerTransaction(
      shaper_.max_recipients_per_batch(connection->options().egress_source_index),
      services_->verp));
  smtp::Transaction transaction = OutgoingTransaction(batch, services_->verp);
  started_[connection] = services_->clock->Now();
  pool_.Start(connection, std::move(batch), std::move(transaction));
}

void SiteQueue::OnReady(DeliveryConnection* connection) {
  const absl::Time now = services_->clock->Now();
  const int source = connection->options().egress_source_index;
  // A reload may have lowered the connection limit below what is open, or taken the source
  // away: such a connection ends at its next transaction.
  if (shutting_down_ || !shaper_.AdmitTransaction(source, connection->transactions()).go() ||
      feedback_.DeliveriesDone(connection->transactions(), now) || !Current(*connection) ||
      shaper_.RetireIfOverLimit(source)) {
    connection->Quit();
    return;
  }
  if (FrontReady()) {
    SendOrWait(connection, now);
    return;
  }
  // Nothing to send now (or the body is still being read): keep it for the next arrival until
  // its idle timeout, unless a site elsewhere waits for the shared slot it holds, or what waits
  // here is suspended.
  if (shaper_.Contended(source) || OnlyHeld()) {
    connection->Quit();
    return;
  }
  pool_.AddIdle(connection);
  EnsureBodies();
}

void SiteQueue::OnDone(DeliveryConnection* connection, std::vector<RecipientPtr> batch,
                       std::vector<smtp::RecipientOutcome> outcomes) {
  const AttemptInfo attempt = AttemptOf(connection);
  std::vector<RecipientPtr> deferred;
  // The replies the rules look at: each distinct one once per transaction.
  struct Seen {
    smtp::Reply reply;
    std::shared_ptr<const MessageInfo> message;
    std::string domain;
  };
  std::vector<Seen> replies;
  for (size_t i = 0; i < batch.size(); ++i) {
    const smtp::Reply& reply = outcomes[i].reply;
    if (!reply.IsPositive() && std::none_of(replies.begin(), replies.end(), [&](const Seen& seen) {
          return seen.reply == reply;
        })) {
      replies.push_back(Seen{reply, batch[i]->message, batch[i]->domain});
    }
    if (outcomes[i].deferred && !shutting_down_) {
      deferred.push_back(std::move(batch[i]));
      continue;
    }
    services_->recorder->Record(std::move(batch[i]), outcomes[i], attempt);
  }
  // "Too many recipients": they lead the next transaction, on this connection if it goes on,
  // and no attempt is counted for them.
  for (auto r = deferred.rbegin(); r != deferred.rend(); ++r) ready_.PushFront(std::move(*r));
  if (shutting_down_) return;
  warmup_.CountReplies(connection->options().egress_source_index, outcomes,
                       services_->clock->Now());
  ControlAfterTransaction(*connection, outcomes);
  for (const Seen& seen : replies) {
    ConsiderReply(seen.reply, *connection, seen.message.get(), seen.domain);
  }
}

smtp::RecipientOutcome SiteQueue::OutcomeAfterClose(size_t i,
                                                    const ConnectionOwner::CloseInfo& info) const {
  if (i < info.in_flight.size()) return info.in_flight[i];
  return smtp::RecipientOutcome{smtp::MakeLocalReply(smtp::LocalReply::kConnectionLost, info.error),
                                "", true};
}

void SiteQueue::OnHostBusy(const ConnectTarget& target, int working) {
  feedback_.HostBusy(target, working, services_->clock->Now());
}

bool SiteQueue::EndedAtMail(DeliveryConnection* connection, std::vector<RecipientPtr>& batch,
                            const ConnectionOwner::CloseInfo& info) {
  if (batch.empty() || !info.reply || info.reply->code != 421 || info.in_flight.empty() ||
      !absl::StartsWith(info.in_flight[0].command, "MAIL")) {
    return false;
  }
  // The server ended the connection before it looked at the recipients ("too many messages on
  // this connection"): they were not tried, so no attempt is counted; they lead the next
  // transaction, on another connection, and connections end after as many messages from now on.
  feedback_.ConnectionEndedAfter(connection->transactions(), services_->clock->Now());
  for (auto r = batch.rbegin(); r != batch.rend(); ++r) ready_.PushFront(std::move(*r));
  batch.clear();
  return true;
}

void SiteQueue::OnClosed(DeliveryConnection* connection, bool never_ready,
                         std::vector<RecipientPtr> batch, ConnectionOwner::CloseInfo info) {
  shaper_.ConnectionClosed(connection->options().egress_source_index);
  // What the reply that ended it was about, before the batch is recorded.
  const std::shared_ptr<const MessageInfo> message = batch.empty() ? nullptr : batch[0]->message;
  const std::string domain = batch.empty() ? route_->domain : batch[0]->domain;
  started_.erase(connection);
  const bool ended_at_mail = !shutting_down_ && EndedAtMail(connection, batch, info);
  if (!shutting_down_) ControlAfterClose(*connection, never_ready, ended_at_mail, info);
  if (!batch.empty()) {
    const AttemptInfo attempt = AttemptOf(connection);
    for (size_t i = 0; i < batch.size(); ++i) {
      const smtp::RecipientOutcome outcome = OutcomeAfterClose(i, info);
      if (shutting_down_ && !outcome.reply.IsPositive() && !outcome.reply.IsPermanent()) {
        // Abandoned by the shutdown: it stays in the spool as it was and is tried again at
        // the next start, without counting an attempt.
        continue;
      }
      services_->recorder->Record(std::move(batch[i]), outcome, attempt);
    }
  }
  if (info.reply && !shutting_down_) ConsiderReply(*info.reply, *connection, message.get(), domain);
  if (never_ready && pool_.size() == 0 && !ready_.empty() && !shutting_down_) OnNoSession(info);
  if (shutting_down_ || ready_.empty()) {
    services_->on_site_idle();
    return;
  }
  Pump();
}

void SiteQueue::OnNoSession(const ConnectionOwner::CloseInfo& info) {
  if (info.all_greetings_permanent && info.reply) {
    // Every host refused us outright at the greeting (RFC 5321 3.1: 554): a verdict on the
    // destination, so the recipients bounce.
    FailAllReady(*info.reply, bounce::BounceClass::kRoutingErrors, /*permanent=*/true);
  } else if (info.reply) {
    // A host answered but would not take a session (a 4xx greeting, a refused STARTTLS or
    // AUTH): its reply tells why, even a 5xx one such as 535 bad credentials, which is our
    // configuration to fix rather than the recipients' fault. They wait for their next retry.
    FailAllReady(*info.reply, services_->recorder->Classify(*info.reply), /*permanent=*/false);
  } else {
    // No host answered at all.
    FailAllReady(smtp::MakeLocalReply(smtp::LocalReply::kNoAnswer, info.error),
                 bounce::BounceClass::kNoAnswerFromHost, /*permanent=*/false);
  }
}

void SiteQueue::BeginShutdown() {
  DCHECK(thread_.InLoopThread());
  shutting_down_ = true;
  wake_.Stop();
  pool_.BeginShutdown();
  ready_.TakeAll();
  hold_.held().TakeAll();
}

void SiteQueue::AbortConnections() {
  DCHECK(thread_.InLoopThread());
  pool_.AbortAll("shutting down");
}

}  // namespace volley::delivery
