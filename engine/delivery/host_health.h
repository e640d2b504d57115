// What a shard remembers about the hosts it delivers to: hosts that just failed are skipped for
// a while, and hosts whose opportunistic TLS failed get plaintext for a while.
#ifndef VOLLEY_ENGINE_DELIVERY_HOST_HEALTH_H_
#define VOLLEY_ENGINE_DELIVERY_HOST_HEALTH_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "engine/base/thread_checker.h"
#include "engine/delivery/site_route.h"

namespace volley::delivery {

// Keyed by address and port, so that every site (and every domain) using a host learns from
// one failure. Entries are forgotten once they pass. All calls on the owning shard's loop.
class HostHealth {
 public:
  // A host that refused or timed out a connection, its greeting or a required TLS handshake.
  static constexpr absl::Duration kFailedHostDelay = absl::Seconds(30);
  // A host whose opportunistic STARTTLS failed (RFC 7435: deliver in plaintext instead).
  static constexpr absl::Duration kNoTlsDelay = absl::Minutes(30);

  explicit HostHealth(Clock& clock) : clock_(clock) {}

  bool RecentlyFailed(const ConnectTarget& target);
  // When a failed host may be tried again (the past when it has not failed lately).
  absl::Time FailedUntil(const ConnectTarget& target);
  void MarkFailed(const ConnectTarget& target);
  bool TlsRecentlyFailed(const ConnectTarget& target);
  void MarkTlsFailed(const ConnectTarget& target);

 private:
  Clock& clock_;
  ThreadChecker thread_;
  absl::flat_hash_map<std::string, absl::Time> failed_;  // "address:port" -> skip until
  absl::flat_hash_map<std::string, absl::Time> no_tls_;  // "address:port" -> plaintext until
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_HOST_HEALTH_H_
