// SiteQueue's adaptive part: what a reply fires (response rules, site_automation.h), what path
// control learns (path_control.h), and the site's effective limits. In its own file to keep
// site_queue.cc to the queue itself.
#include <optional>
#include <utility>

#include "engine/delivery/site_queue.h"

namespace volley::delivery {

void SiteQueue::ConsiderReply(const smtp::Reply& reply, const DeliveryConnection& connection,
                              const MessageInfo* message, absl::string_view domain) {
  const absl::Time now = services_->clock->Now();
  const ConnectionOptions& options = connection.options();
  SiteAutomation::About about;
  about.site = name();
  about.provider = route_->shaping->site.provider;
  about.source = options.egress_source_index;
  about.source_name = options.egress_source;
  about.domain = domain;
  if (message != nullptr) {
    about.tenant = message->tenant;
    about.campaign = message->campaign;
  }
  SiteAutomation::Effects effects = automation_.OnReply(*services_->rules, reply, about, now);
  for (adaptive::Suspension& s : effects.suspensions) {
    if (services_->suspend) services_->suspend(std::move(s));
  }
  if (effects.limits_changed) RecomputeLimits();
  if (effects.bounce) BounceWaiting(now);
  WakeAt(automation_.next_change(), now);
}

void SiteQueue::RecomputeLimits() {
  effective_ = control_.Apply(automation_.Effective(route_->shaping->by_source), name(),
                              route_->shaping->pool->sources);
  shaper_.set_limits(&effective_);
  warmup_.Apply(*route_, services_->warmup, shaper_, services_->clock->Now());
}

namespace {

// A congestion signal in a reply: 421 (the server closes), or a 4.7.x deferral (RFC 3463:
// security or policy, which is how receivers say "slow down").
std::optional<PathControl::Signal> CongestionIn(const smtp::Reply& reply) {
  if (reply.code == 421) return PathControl::Signal::kReply421;
  if (reply.IsTransient() && reply.enhanced && reply.enhanced->subject == 7) {
    return PathControl::Signal::kDeferral;
  }
  return std::nullopt;
}

}  // namespace

void SiteQueue::ControlAfterTransaction(const DeliveryConnection& connection,
                                        const std::vector<smtp::RecipientOutcome>& outcomes) {
  const absl::Time now = services_->clock->Now();
  auto started = started_.find(&connection);
  if (started == started_.end()) return;
  const absl::Duration latency = now - started->second;
  started_.erase(started);
  const int source = connection.options().egress_source_index;
  bool delivered = false;
  for (const smtp::RecipientOutcome& o : outcomes) {
    if (std::optional<PathControl::Signal> signal = CongestionIn(o.reply)) {
      if (control_.OnCongestion(source, *signal, o.reply.Summary(), now)) {
        RecomputeLimits();
      }
      return;
    }
    delivered = delivered || o.reply.IsPositive();
  }
  if (delivered && shaper_.HasSource(source) &&
      control_.OnSuccess(source, latency, shaper_.open_connections(source), now)) {
    RecomputeLimits();
  }
}

void SiteQueue::ControlAfterClose(const DeliveryConnection& connection, bool never_ready,
                                  bool ended_at_mail, const ConnectionOwner::CloseInfo& info) {
  const int source = connection.options().egress_source_index;
  const absl::Time now = services_->clock->Now();
  bool changed = false;
  if (never_ready && pool_.size() > 0) {
    // Refused while other connections to the site work: the site takes no more.
    changed = control_.OnCongestion(
        source, PathControl::Signal::kRefused,
        info.reply ? info.reply->Summary() : "connection refused: " + info.error, now);
  } else if (!never_ready && !ended_at_mail && info.reply && info.reply->code == 421) {
    changed =
        control_.OnCongestion(source, PathControl::Signal::kReply421, info.reply->Summary(), now);
  }
  if (changed) RecomputeLimits();
}

void SiteQueue::ExpireAutomation(absl::Time now) {
  if (automation_.Expire(now)) RecomputeLimits();
  WakeAt(automation_.next_change(), now);
}

bool SiteQueue::BounceWaiting(absl::Time now) {
  const smtp::Reply* reply = automation_.Bouncing(now);
  if (reply == nullptr) return false;
  const bounce::BounceClass classification = services_->recorder->Classify(*reply);
  const AttemptInfo attempt = AttemptOf(nullptr);
  for (ReadyQueue* queue : {&ready_, &hold_.held()}) {
    for (RecipientPtr& r : queue->TakeAll()) {
      services_->recorder->Bounce(std::move(r), *reply, classification, attempt);
    }
  }
  return true;
}

}  // namespace volley::delivery
