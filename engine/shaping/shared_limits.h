// Budgets that several sites draw from (a provider's limits, the named
// additional_connection_limits and additional_message_rate_throttles), held exactly although
// the sites live on different shards, with no lock on the hot path.
//
// Each budget has one owner, the shard its name hashes to, which holds the truth: the count of
// connection slots handed out, or the rate's GCRA (Throttle). Every shard keeps a lease of it:
//   - Connections: slots granted to the shard. A site takes one from the lease for each
//     connection it opens and gives it back when the connection closes; a shard asks the owner
//     for more when its lease is used up, and returns what it holds but does not use. The owner
//     never grants beyond the limit, so the connections open across all shards never exceed it:
//     exact, at every moment.
//   - Rates: events taken from the owner's throttle in batches (at most a tenth of the rate's
//     burst, and what the throttle allows now) and spent by the shard within kRateLeaseTtl;
//     what is not spent by then is given back. Every event was admitted by the one throttle,
//     at most kRateLeaseTtl before it happened, so in any window of length w the events are
//     at most the throttle's bound for w + kRateLeaseTtl: quantity + max_burst - 1 +
//     ceil(kRateLeaseTtl / interval) for a window of one period.
// When the owner is the asking shard itself, no lease is used: the site asks the owner's state
// directly, so with one shard the budgets are plain local limits.
//
// A site that is refused registers a waker; it is called (on the site's shard, from a timer or
// a reply, never from inside the site's own call) when the lease changes.
#ifndef VOLLEY_ENGINE_SHAPING_SHARED_LIMITS_H_
#define VOLLEY_ENGINE_SHAPING_SHARED_LIMITS_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "engine/config/config.h"
#include "engine/runtime/timer.h"
#include "engine/shaping/admission.h"
#include "engine/shaping/throttle.h"

namespace volley::shaping {

// Called when a refused site should ask again. Must be safe to call after the site is gone
// (guard it with the site's Liveness).
using Waker = std::function<void()>;

// One per shard; all calls on the shard's loop thread.
class SharedLimits {
 public:
  // How long a shard may hold rate events it was granted before giving them back.
  static constexpr absl::Duration kRateLeaseTtl = absl::Milliseconds(50);

  // Runs `task` with shard `index`'s SharedLimits on that shard's loop.
  using PostFn = std::function<void(int index, absl::AnyInvocable<void(SharedLimits&) &&> task)>;

  SharedLimits(uv_loop_t* loop, int shard, int shards, Clock* clock, PostFn post);
  ~SharedLimits();
  SharedLimits(const SharedLimits&) = delete;
  SharedLimits& operator=(const SharedLimits&) = delete;

  // The shard that owns the budget `name`.
  int OwnerOf(absl::string_view name) const;

  // A connection slot of a kConnections budget; a "go" holds it until ReleaseConnection.
  Admission AcquireConnection(const config::SharedLimitSpec& spec, const Waker& waker);
  void ReleaseConnection(const std::string& name);
  // One event of a rate budget (kMessageRate, kConnectionRate). A "go" spends it.
  Admission TakeEvent(const config::SharedLimitSpec& spec, absl::Time now, const Waker& waker);
  // Gives back an event TakeEvent granted but that was not used after all.
  void ReturnEvent(const std::string& name);

  // For tests and read-outs: slots this shard holds (leased and in use) for `name`.
  int held_connections(const std::string& name) const;

 private:
  struct ConnectionLease {
    int held = 0;    // granted by the owner (or, on the owner, counted in its total)
    int in_use = 0;  // taken by sites
    bool asking = false;
    std::vector<Waker> waiters;
  };
  struct RateLease {
    uint64_t events = 0;
    absl::Time expires = absl::InfinitePast();
    absl::Time refused_until = absl::InfinitePast();
    bool asking = false;
    std::vector<Waker> waiters;
  };
  struct OwnedConnections {
    int limit = 0;
    int total = 0;             // slots granted, all shards
    std::vector<int> granted;  // per shard
    std::vector<int> wanting;  // per shard: slots asked for and not yet granted
    size_t next_wanting = 0;   // round-robin over the shards that wait
  };
  struct OwnedRate {
    explicit OwnedRate(const config::Rate& rate, absl::string_view limit) : throttle(rate, limit) {}
    Throttle throttle;
  };

  // Owner side (run on the owner's loop).
  void OwnerAskConnections(int from, const config::SharedLimitSpec& spec, int want);
  void OwnerReturnConnections(int from, const std::string& name, int n);
  void OwnerGrantWaiting(const std::string& name, OwnedConnections& owned);
  void OwnerAskEvents(int from, const config::SharedLimitSpec& spec, uint64_t want);
  void OwnerGiveBack(const std::string& name, uint64_t n);
  OwnedConnections& Owned(const config::SharedLimitSpec& spec);
  OwnedRate& OwnedRateFor(const config::SharedLimitSpec& spec);
  // Client side (run on the asking shard's loop).
  void OnConnectionsGranted(const std::string& name, int n);
  void OnEventsGranted(const std::string& name, uint64_t n, absl::Time not_before);
  // Returns what leases hold but nobody uses: slots beyond those in use, expired events.
  void ReturnIdle();
  void ScheduleReturnIdle();
  // Calls `waiters` on the next loop turn and clears the list.
  void Wake(std::vector<Waker>& waiters);

  const int shard_;
  const int shards_;
  Clock* const clock_;
  const PostFn post_;
  absl::flat_hash_map<std::string, ConnectionLease> connection_leases_;
  absl::flat_hash_map<std::string, RateLease> rate_leases_;
  absl::flat_hash_map<std::string, OwnedConnections> owned_connections_;
  absl::flat_hash_map<std::string, std::unique_ptr<OwnedRate>> owned_rates_;
  Timer return_idle_;
  // Wakes local waiters on the next loop turn, never inside the call that freed something.
  Timer wake_local_;
  std::vector<Waker> local_waiters_;
};

}  // namespace volley::shaping

#endif  // VOLLEY_ENGINE_SHAPING_SHARED_LIMITS_H_
