#include "engine/delivery/suspension_hold.h"

#include <utility>

namespace volley::delivery {

bool SuspensionHold::Holds(const QueuedRecipient& r, const adaptive::SiteName& site,
                           absl::Time now) const {
  return all_sources_paused_ ||
         applied_->Holding(site, r.domain, r.message->tenant, r.message->campaign, now) != nullptr;
}

void SuspensionHold::Hold(RecipientPtr r) {
  r->body.reset();  // read again when the suspension ends
  held_.Push(std::move(r));
}

bool SuspensionHold::HoldIfSuspended(RecipientPtr& r, const adaptive::SiteName& site,
                                     absl::Time now) {
  if ((applied_->empty() && !all_sources_paused_) || !Holds(*r, site, now)) return false;
  Hold(std::move(r));
  return true;
}

bool SuspensionHold::Apply(const adaptive::SuspensionSet* set, const adaptive::SiteName& site,
                           const std::vector<config::EgressSource>& sources,
                           shaping::Shaper& shaper, ReadyQueue& ready, absl::Time now) {
  applied_ = set;
  // Sources first: when every one is paused, the site holds everything.
  bool any_paused = false;
  all_sources_paused_ = !sources.empty();
  for (size_t i = 0; i < sources.size() && shaper.HasSource(static_cast<int>(i)); ++i) {
    const bool paused = set->PausingSource(site, sources[i].name, now) != nullptr;
    shaper.set_paused(static_cast<int>(i), paused);
    any_paused = any_paused || paused;
    all_sources_paused_ = all_sources_paused_ && paused;
  }
  std::vector<RecipientPtr> released;
  held_.Filter([&](RecipientPtr& r) {
    if (Holds(*r, site, now)) return true;
    released.push_back(std::move(r));
    return false;
  });
  if (!set->empty() || all_sources_paused_) {
    ready.Filter([&](RecipientPtr& r) {
      if (!Holds(*r, site, now)) return true;
      Hold(std::move(r));
      return false;
    });
  }
  for (RecipientPtr& r : released) ready.Push(std::move(r));
  change_at_ = set->NextExpiry(now);
  return any_paused;
}

}  // namespace volley::delivery
