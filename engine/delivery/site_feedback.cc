#include "engine/delivery/site_feedback.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace volley::delivery {

std::string SiteFeedback::Key(const ConnectTarget& target) {
  return absl::StrCat(target.address, ":", target.port);
}

void SiteFeedback::HostBusy(const ConnectTarget& target, int working, absl::Time now) {
  Cap& cap = hosts_[Key(target)];
  // A cap that has lapsed starts again from what works now.
  cap.connections =
      now < cap.until ? std::min(cap.connections, std::max(1, working)) : std::max(1, working);
  cap.until = now + kLearnedFor;
  latest_until_ = std::max(latest_until_, cap.until);
}

bool SiteFeedback::HostFull(const ConnectTarget& target, int open, absl::Time now) const {
  auto it = hosts_.find(Key(target));
  return it != hosts_.end() && now < it->second.until && open >= it->second.connections;
}

bool SiteFeedback::any_host_cap(absl::Time now) const { return now < latest_until_; }

void SiteFeedback::ConnectionEndedAfter(int transactions, absl::Time now) {
  if (transactions <= 0) return;
  deliveries_ = now < deliveries_until_ ? std::min(deliveries_, transactions) : transactions;
  deliveries_until_ = now + kLearnedFor;
}

bool SiteFeedback::DeliveriesDone(int transactions, absl::Time now) const {
  return deliveries_ > 0 && now < deliveries_until_ && transactions >= deliveries_;
}

}  // namespace volley::delivery
