// Budgets that several sites draw from (a provider's limits, the named
// additional_connection_limits and additional_message_rate_throttles), held exactly although
// the sites live on different shards, with no lock on the hot path.
//
// Each budget has one owner, the shard its name hashes to, which holds the truth:
//   - Connections: the owner counts the slots out. A site asks for one slot per connection it
//     wants to open; the owner grants it if the count is below the limit, or queues the ask
//     (first come, first served, across shards) and grants it when a slot comes back. A slot
//     goes back when its connection closes, or when a grant is not taken within
//     kUnclaimedGrantTtl. The count never exceeds the limit, so the connections open across all
//     shards never do: exact, at every moment. While asks wait, the owner tells the shards
//     holding slots that the budget is contended, and their sites close the connections they
//     keep idle, so that idle connections do not hold slots that others wait for.
//   - Rates: events taken from the owner's throttle in small batches (at most a tenth of the
//     burst, and what the throttle allows now) and spent by the asking shard within
//     kRateLeaseTtl; what is not spent by then is given back. Every event was admitted by the
//     one throttle at most kRateLeaseTtl before it happened, so in any window of length w the
//     events are at most the throttle's bound for w + kRateLeaseTtl: for a window of one period,
//     quantity + max_burst - 1 + ceil(kRateLeaseTtl / interval).
// The owner's own sites ask its state directly (no message), so with one shard the budgets are
// plain local limits. A site that is refused is woken (on its shard, on a later loop turn,
// never from inside its own call) when asking again may succeed.
#ifndef VOLLEY_ENGINE_SHAPING_SHARED_LIMITS_H_
#define VOLLEY_ENGINE_SHAPING_SHARED_LIMITS_H_

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
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
  // How long a granted connection slot waits for its site to take it.
  static constexpr absl::Duration kUnclaimedGrantTtl = absl::Milliseconds(50);

  // Runs `task` with shard `index`'s SharedLimits on that shard's loop.
  using PostFn = std::function<void(int index, absl::AnyInvocable<void(SharedLimits&) &&> task)>;

  SharedLimits(uv_loop_t* loop, int shard, int shards, Clock* clock, PostFn post);
  ~SharedLimits();
  SharedLimits(const SharedLimits&) = delete;
  SharedLimits& operator=(const SharedLimits&) = delete;

  // The shard that owns the budget `name`.
  int OwnerOf(absl::string_view name) const;

  // A connection slot of a kConnections budget for `holder` (a site); a "go" holds it until
  // ReleaseConnection. Refused: `waker` is called when the slot asked for arrives. While
  // `holder` holds slots, `waker` is also called when the budget becomes contended.
  Admission AcquireConnection(const config::SharedLimitSpec& spec, const void* holder,
                              const Waker& waker);
  void ReleaseConnection(const std::string& name, const void* holder);
  // True while asks for slots of `name` wait at the owner: holders should close the
  // connections they keep idle.
  bool contended(const std::string& name) const;

  // One event of a rate budget (kMessageRate, kConnectionRate). A "go" spends it.
  Admission TakeEvent(const config::SharedLimitSpec& spec, absl::Time now, const Waker& waker);
  // Gives back an event TakeEvent granted but that was not used after all.
  void ReturnEvent(const std::string& name);

  // For tests and read-outs: slots this shard's sites hold for `name`.
  int connections_in_use(const std::string& name) const;

 private:
  // A shard's side of a connection budget.
  struct ConnectionLease {
    int in_use = 0;
    bool contended = false;  // as the owner last said
    // Asks sent and not yet granted, by site.
    absl::flat_hash_map<const void*, Waker> asking;
    // Slots granted and not yet taken, by site, with when they came.
    absl::flat_hash_map<const void*, std::vector<absl::Time>> unclaimed;
    // The sites holding slots: how many each, and how to wake them.
    absl::flat_hash_map<const void*, std::pair<int, Waker>> holders;
  };
  // The owner's side.
  struct OwnedConnections {
    int limit = 0;
    int out = 0;  // slots granted, all shards
    struct Ask {
      int shard;
      const void* holder;
    };
    std::deque<Ask> queue;   // first come, first served
    std::vector<bool> told;  // per shard: told the budget is contended
    std::vector<int> out_by_shard;
  };
  struct RateLease {
    uint64_t events = 0;
    absl::Time expires = absl::InfinitePast();
    absl::Time refused_until = absl::InfinitePast();
    bool asking = false;
    std::vector<Waker> waiters;
  };
  struct OwnedRate {
    OwnedRate(const config::Rate& rate, absl::string_view limit)
        : name(limit), throttle(rate, name) {}
    // The throttle's admissions name the limit by a view of this: the spec it came from lives
    // only as long as the site route that asked first.
    const std::string name;
    Throttle throttle;
  };

  // Owner side (run on the owner's loop).
  void OwnerAsk(int from, const config::SharedLimitSpec& spec, const void* holder);
  void OwnerReturn(int from, const std::string& name);
  // Grants queued asks while there is room, then says whether asks still wait.
  void OwnerGrantQueued(const std::string& name, OwnedConnections& owned);
  void OwnerTellContended(const std::string& name, OwnedConnections& owned, bool contended);
  void OwnerAskEvents(int from, const config::SharedLimitSpec& spec, uint64_t want);
  void OwnerGiveBack(const std::string& name, uint64_t n);
  OwnedConnections& Owned(const config::SharedLimitSpec& spec);
  OwnedRate& OwnedRateFor(const config::SharedLimitSpec& spec);
  // Client side (run on the asking shard's loop).
  void OnGranted(const std::string& name, const void* holder);
  void OnContended(const std::string& name, bool contended);
  void OnEventsGranted(const std::string& name, uint64_t n, absl::Time not_before);
  // Sends a slot back to the owner.
  void ReturnSlot(const std::string& name);
  // Gives back what is granted but not used: slots nobody took, expired rate events.
  void ReturnIdle();
  void ScheduleReturnIdle();
  // Calls `waker` on the next loop turn.
  void WakeLater(Waker waker);

  const int shard_;
  const int shards_;
  Clock* const clock_;
  const PostFn post_;
  absl::flat_hash_map<std::string, ConnectionLease> connection_leases_;
  absl::flat_hash_map<std::string, OwnedConnections> owned_connections_;
  absl::flat_hash_map<std::string, RateLease> rate_leases_;
  absl::flat_hash_map<std::string, std::unique_ptr<OwnedRate>> owned_rates_;
  Timer return_idle_;
  Timer wake_;
  std::vector<Waker> to_wake_;
};

}  // namespace volley::shaping

#endif  // VOLLEY_ENGINE_SHAPING_SHARED_LIMITS_H_
