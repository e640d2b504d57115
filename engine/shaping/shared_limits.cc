#include "engine/shaping/shared_limits.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"

namespace volley::shaping {
namespace {

// Rate events asked for at once: enough that a busy shard does not ask for each message, few
// enough that one shard cannot sit on the burst (a tenth of it) or on more than it can spend
// within the lease's life.
uint64_t BatchSize(const config::Rate& rate) {
  const double per_ttl = static_cast<double>(rate.quantity) *
                         absl::FDivDuration(SharedLimits::kRateLeaseTtl, rate.period);
  const uint64_t by_ttl = static_cast<uint64_t>(per_ttl);
  return std::max<uint64_t>(1, std::min(rate.max_burst / 10, by_ttl));
}

}  // namespace

SharedLimits::SharedLimits(uv_loop_t* loop, int shard, int shards, Clock* clock, PostFn post)
    : shard_(shard),
      shards_(shards),
      clock_(clock),
      post_(std::move(post)),
      return_idle_(loop, [this] { ReturnIdle(); }),
      wake_local_(loop, [this] {
        std::vector<Waker> waiters;
        waiters.swap(local_waiters_);
        for (const Waker& waker : waiters) waker();
      }) {
  return_idle_.Unref();
  wake_local_.Unref();
}

SharedLimits::~SharedLimits() = default;

int SharedLimits::OwnerOf(absl::string_view name) const {
  return static_cast<int>(absl::Hash<absl::string_view>()(name) % static_cast<size_t>(shards_));
}

void SharedLimits::Wake(std::vector<Waker>& waiters) {
  // Not from inside the call that freed something: the waiter may be the caller.
  for (Waker& waker : waiters) local_waiters_.push_back(std::move(waker));
  waiters.clear();
  if (!local_waiters_.empty()) wake_local_.Start(absl::ZeroDuration());
}

// ---- Connections ----

Admission SharedLimits::AcquireConnection(const config::SharedLimitSpec& spec, const Waker& waker) {
  ConnectionLease& lease = connection_leases_[spec.name];
  const int owner = OwnerOf(spec.name);
  if (lease.in_use >= lease.held && owner == shard_) {
    // The truth is here: ask it now. A grant arrives at once when there is room.
    OwnerAskConnections(shard_, spec, 1);
  }
  if (lease.in_use < lease.held) {
    ++lease.in_use;
    return Admission::Go();
  }
  lease.waiters.push_back(waker);
  if (!lease.asking) {
    lease.asking = true;
    if (owner != shard_) {
      const int want = static_cast<int>(lease.waiters.size());
      post_(owner, [from = shard_, spec, want](SharedLimits& o) {
        o.OwnerAskConnections(from, spec, want);
      });
    }
  }
  return Admission::NotBefore(absl::InfiniteFuture(), spec.name);
}

void SharedLimits::ReleaseConnection(const std::string& name) {
  auto it = connection_leases_.find(name);
  if (it == connection_leases_.end() || it->second.in_use == 0) return;
  ConnectionLease& lease = it->second;
  --lease.in_use;
  if (!lease.waiters.empty()) {
    Wake(lease.waiters);  // a site here waits for it
    ScheduleReturnIdle();
    return;
  }
  if (OwnerOf(name) == shard_) {
    // Another shard waiting gets the slot now.
    auto owned = owned_connections_.find(name);
    if (owned != owned_connections_.end() &&
        std::any_of(owned->second.wanting.begin(), owned->second.wanting.end(),
                    [](int want) { return want > 0; })) {
      --lease.held;
      OwnerReturnConnections(shard_, name, 1);
      return;
    }
  }
  // Kept for a moment: a site that closes a connection often opens the next one at once.
  ScheduleReturnIdle();
}

int SharedLimits::held_connections(const std::string& name) const {
  auto it = connection_leases_.find(name);
  return it == connection_leases_.end() ? 0 : it->second.held;
}

SharedLimits::OwnedConnections& SharedLimits::Owned(const config::SharedLimitSpec& spec) {
  OwnedConnections& owned = owned_connections_[spec.name];
  if (owned.granted.empty()) {
    owned.granted.assign(shards_, 0);
    owned.wanting.assign(shards_, 0);
  }
  // A new config's limit applies to the next grant; slots out stay out until returned.
  owned.limit = spec.connections;
  return owned;
}

void SharedLimits::OwnerAskConnections(int from, const config::SharedLimitSpec& spec, int want) {
  OwnedConnections& owned = Owned(spec);
  owned.wanting[from] = std::max(owned.wanting[from], want);
  OwnerGrantWaiting(spec.name, owned);
}

void SharedLimits::OwnerReturnConnections(int from, const std::string& name, int n) {
  auto it = owned_connections_.find(name);
  if (it == owned_connections_.end()) return;
  OwnedConnections& owned = it->second;
  n = std::min(n, owned.granted[from]);
  owned.granted[from] -= n;
  owned.total -= n;
  OwnerGrantWaiting(name, owned);
}

void SharedLimits::OwnerGrantWaiting(const std::string& name, OwnedConnections& owned) {
  for (int k = 0; k < shards_ && owned.total < owned.limit; ++k) {
    const int i = static_cast<int>((owned.next_wanting + k) % shards_);
    if (owned.wanting[i] == 0) continue;
    const int grant = std::min(owned.wanting[i], owned.limit - owned.total);
    owned.total += grant;
    owned.granted[i] += grant;
    owned.wanting[i] = 0;
    owned.next_wanting = static_cast<size_t>(i) + 1;
    if (i == shard_) {
      OnConnectionsGranted(name, grant);
    } else {
      post_(i, [name, grant](SharedLimits& s) { s.OnConnectionsGranted(name, grant); });
    }
  }
}

void SharedLimits::OnConnectionsGranted(const std::string& name, int n) {
  ConnectionLease& lease = connection_leases_[name];
  lease.held += n;
  lease.asking = false;
  Wake(lease.waiters);
  ScheduleReturnIdle();  // in case nobody takes them after all
}

// ---- Rates ----

SharedLimits::OwnedRate& SharedLimits::OwnedRateFor(const config::SharedLimitSpec& spec) {
  std::unique_ptr<OwnedRate>& owned = owned_rates_[spec.name];
  if (owned == nullptr) {
    owned = std::make_unique<OwnedRate>(spec.rate, spec.name);
  } else if (!(owned->throttle.rate() == spec.rate)) {
    owned->throttle.set_rate(spec.rate);
  }
  return *owned;
}

Admission SharedLimits::TakeEvent(const config::SharedLimitSpec& spec, absl::Time now,
                                  const Waker& waker) {
  const int owner = OwnerOf(spec.name);
  if (owner == shard_) return OwnedRateFor(spec).throttle.TryTake(now);
  RateLease& lease = rate_leases_[spec.name];
  if (lease.events > 0 && now < lease.expires) {
    --lease.events;
    return Admission::Go();
  }
  if (now < lease.refused_until) return Admission::NotBefore(lease.refused_until, spec.name);
  lease.waiters.push_back(waker);
  if (!lease.asking) {
    lease.asking = true;
    const uint64_t want = BatchSize(spec.rate);
    post_(owner,
          [from = shard_, spec, want](SharedLimits& o) { o.OwnerAskEvents(from, spec, want); });
  }
  return Admission::NotBefore(absl::InfiniteFuture(), spec.name);
}

void SharedLimits::ReturnEvent(const std::string& name) {
  if (OwnerOf(name) == shard_) {
    if (auto it = owned_rates_.find(name); it != owned_rates_.end())
      it->second->throttle.GiveBack(1);
    return;
  }
  if (auto it = rate_leases_.find(name); it != rate_leases_.end()) ++it->second.events;
}

void SharedLimits::OwnerAskEvents(int from, const config::SharedLimitSpec& spec, uint64_t want) {
  Throttle& throttle = OwnedRateFor(spec).throttle;
  const absl::Time now = clock_->Now();
  const uint64_t grant = std::min(want, throttle.Available(now));
  absl::Time not_before = absl::InfinitePast();
  if (grant > 0) {
    throttle.TryTake(now, grant);
  } else {
    Throttle probe = throttle;
    not_before = probe.TryTake(now).not_before();
  }
  post_(from, [name = spec.name, grant, not_before](SharedLimits& s) {
    s.OnEventsGranted(name, grant, not_before);
  });
}

void SharedLimits::OwnerGiveBack(const std::string& name, uint64_t n) {
  if (auto it = owned_rates_.find(name); it != owned_rates_.end()) it->second->throttle.GiveBack(n);
}

void SharedLimits::OnEventsGranted(const std::string& name, uint64_t n, absl::Time not_before) {
  RateLease& lease = rate_leases_[name];
  lease.asking = false;
  lease.events += n;
  lease.expires = clock_->Now() + kRateLeaseTtl;
  if (n == 0) lease.refused_until = not_before;
  Wake(lease.waiters);
  ScheduleReturnIdle();
}

// ---- Returning what is not used ----

void SharedLimits::ScheduleReturnIdle() {
  if (!return_idle_.active()) return_idle_.Start(kRateLeaseTtl);
}

void SharedLimits::ReturnIdle() {
  bool again = false;
  for (auto& [name, lease] : connection_leases_) {
    const int surplus = lease.held - lease.in_use;
    if (surplus <= 0) continue;
    if (!lease.waiters.empty() || lease.asking) {
      again = true;  // woken sites have not asked yet
      continue;
    }
    lease.held -= surplus;
    const int owner = OwnerOf(name);
    if (owner == shard_) {
      OwnerReturnConnections(shard_, name, surplus);
    } else {
      post_(owner, [from = shard_, name, surplus](SharedLimits& o) {
        o.OwnerReturnConnections(from, name, surplus);
      });
    }
  }
  const absl::Time now = clock_->Now();
  for (auto& [name, lease] : rate_leases_) {
    if (lease.events == 0) continue;
    if (now < lease.expires) {
      again = true;
      continue;
    }
    const uint64_t unused = lease.events;
    lease.events = 0;
    post_(OwnerOf(name), [name, unused](SharedLimits& o) { o.OwnerGiveBack(name, unused); });
  }
  if (again) ScheduleReturnIdle();
}

}  // namespace volley::shaping
