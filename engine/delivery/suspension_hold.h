// The part of a site's queue that suspensions hold back (adaptive/suspension.h): recipients a
// suspension in force holds from every egress source wait here, out of line, with no attempt
// and no record, until it ends; a suspension of one source pauses that source in the site's
// Shaper. SiteQueue asks it to follow the shard's latest suspensions when they change and when
// the first of them ends.
#ifndef VOLLEY_ENGINE_DELIVERY_SUSPENSION_HOLD_H_
#define VOLLEY_ENGINE_DELIVERY_SUSPENSION_HOLD_H_

#include <vector>

#include "absl/time/time.h"
#include "engine/adaptive/suspension.h"
#include "engine/config/config.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/ready_queue.h"
#include "engine/shaping/shaper.h"

namespace volley::delivery {

// Owned by a SiteQueue; its shard's loop.
class SuspensionHold {
 public:
  // True when `current` is not what was applied last, or one of those ends by `now`.
  bool Stale(const adaptive::SuspensionSet* current, absl::Time now) const {
    return current != applied_ || now >= change_at_;
  }
  // Forget what was applied (the site's name or sources changed): the next Stale is true.
  void Invalidate() { applied_ = nullptr; }

  // Applies `set` at `now` to the site named `site` with egress `sources`: pauses the sources
  // it suspends in `shaper`, moves what it holds from `ready` to the hold and what it no longer
  // holds back into `ready`. Returns true when some source is paused.
  bool Apply(const adaptive::SuspensionSet* set, const adaptive::SiteName& site,
             const std::vector<config::EgressSource>& sources, shaping::Shaper& shaper,
             ReadyQueue& ready, absl::Time now);
  // A recipient arriving at the site: kept here (true) when a suspension holds it.
  bool HoldIfSuspended(RecipientPtr& r, const adaptive::SiteName& site, absl::Time now);

  // When the first suspension applied ends (infinite: none is in force).
  absl::Time change_at() const { return change_at_; }
  ReadyQueue& held() { return held_; }
  const ReadyQueue& held() const { return held_; }

 private:
  bool Holds(const QueuedRecipient& r, const adaptive::SiteName& site, absl::Time now) const;
  void Hold(RecipientPtr r);

  ReadyQueue held_;
  const adaptive::SuspensionSet* applied_ = nullptr;  // the set (the shard keeps it alive)
  bool all_sources_paused_ = false;
  absl::Time change_at_ = absl::InfiniteFuture();
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SUSPENSION_HOLD_H_
