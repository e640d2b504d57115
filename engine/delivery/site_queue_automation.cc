// SiteQueue's part of the response rules (site_automation.h): what a reply fires, and the
// site's effective limits. In its own file to keep site_queue.cc to one screenful of concerns.
#include <utility>

#include "engine/bounce/classifier.h"
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
  effective_ = automation_.Effective(route_->shaping->by_source);
  shaper_.set_limits(&effective_);
}

void SiteQueue::ExpireAutomation(absl::Time now) {
  if (automation_.Expire(now)) RecomputeLimits();
  WakeAt(automation_.next_change(), now);
}

bool SiteQueue::BounceWaiting(absl::Time now) {
  const smtp::Reply* reply = automation_.Bouncing(now);
  if (reply == nullptr) return false;
  const bounce::BounceClass classification = bounce::Classify(*reply);
  const AttemptInfo attempt = AttemptOf(nullptr);
  for (ReadyQueue* queue : {&ready_, &hold_.held()}) {
    for (RecipientPtr& r : queue->TakeAll()) {
      services_->recorder->Bounce(std::move(r), *reply, classification, attempt);
    }
  }
  return true;
}

}  // namespace volley::delivery
