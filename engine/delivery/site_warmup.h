// IP warm-up at one site: the warm-up cap (adaptive/warmup_ledger.h) of each warming source of
// the site's egress pool toward the site's provider (its [shaping.provider] name, or the site
// itself), set on the site's Shaper, fed with the replies the site gives that source, and shown
// in the explain read-out.
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_WARMUP_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_WARMUP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/adaptive/warmup_ledger.h"
#include "engine/delivery/site_route.h"
#include "engine/shaping/shaper.h"
#include "engine/smtp/client_session.h"

namespace volley::delivery {

// Owned by a SiteQueue; its shard's loop (the ledger behind the caps is thread-safe).
class SiteWarmup {
 public:
  // Makes the caps `route` asks for (none without a ledger) and sets them on `shaper`, whose
  // limits follow `route` already. Caps that stay the same keep going.
  void Apply(const SiteRoute& route, adaptive::WarmupLedger* ledger, shaping::Shaper& shaper,
             absl::Time now);
  // A transaction from `source` ended with `outcomes`: the site's replies count toward the
  // day's deferral rate (not our own make-believe replies, nor recipients moved to the next
  // transaction).
  void CountReplies(int source, const std::vector<smtp::RecipientOutcome>& outcomes,
                    absl::Time now);
  // The warming sources' states (WarmupState::ExplainJson), in pool order.
  std::vector<std::string> Json(absl::Time now) const;
  // When the first full cap opens again (infinite: none is full).
  absl::Time NextOpening(absl::Time now) const;

 private:
  std::vector<std::unique_ptr<adaptive::WarmupCap>> caps_;  // index: the pool's sources
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_WARMUP_H_
