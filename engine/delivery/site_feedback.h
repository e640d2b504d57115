// What a site told us by refusing more, learned per site queue and obeyed before the limits
// configured: a host that answers a new connection with 421 (or refuses it) while other
// connections to it work takes no more than those; a server that ends a connection with 421 at
// MAIL after N messages gets N messages per connection. Learned caps lapse after a while, so
// that a site that was busy gets probed again (issue 11's closed-loop control will replace the
// lapse with additive increase).
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_FEEDBACK_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_FEEDBACK_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/delivery/site_route.h"

namespace volley::delivery {

// All calls on the site's shard.
class SiteFeedback {
 public:
  // How long a learned cap holds before the site is tried with one more.
  static constexpr absl::Duration kLearnedFor = absl::Minutes(1);

  // A connection to `target` failed while `working` others to it are up: it takes `working`.
  void HostBusy(const ConnectTarget& target, int working, absl::Time now);
  // True when `open` connections to `target` are all it takes now.
  bool HostFull(const ConnectTarget& target, int open, absl::Time now) const;
  // Whether any host has a cap now (so that the caller counts connections per host only then).
  bool any_host_cap(absl::Time now) const;

  // The server ended a connection at MAIL after `transactions` messages.
  void ConnectionEndedAfter(int transactions, absl::Time now);
  // True when a connection that has carried `transactions` messages should end.
  bool DeliveriesDone(int transactions, absl::Time now) const;

 private:
  struct Cap {
    int connections = 0;
    absl::Time until;
  };
  static std::string Key(const ConnectTarget& target);

  absl::flat_hash_map<std::string, Cap> hosts_;  // "address:port"
  absl::Time latest_until_ = absl::InfinitePast();
  int deliveries_ = 0;  // 0: none learned
  absl::Time deliveries_until_ = absl::InfinitePast();
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_FEEDBACK_H_
