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
      wake_(loop, [this] {
        std::vector<Waker> wakers;
        wakers.swap(to_wake_);
        for (const Waker& waker : wakers) waker();
      }) {
  // A shard's other handles keep its loop running; these must not keep it from ending.
  return_idle_.Unref();
  wake_.Unref();
}

SharedLimits::~SharedLimits() = default;

int SharedLimits::OwnerOf(absl::string_view name) const {
  return static_cast<int>(absl::Hash<absl::string_view>()(name) % static_cast<size_t>(shards_));
}

void SharedLimits::WakeLater(Waker waker) {
  to_wake_.push_back(std::move(waker));
  if (!wake_.active()) wake_.Start(absl::ZeroDuration());
}

// ---- Connections: the asking shard ----

Admission SharedLimits::AcquireConnection(const config::SharedLimitSpec& spec, const void* holder,
                                          const Waker& waker) {
  ConnectionLease& lease = connection_leases_[spec.name];
  auto claim = [&]() {
    auto it = lease.unclaimed.find(holder);
    if (it == lease.unclaimed.end()) return false;
    it->second.pop_back();
    if (it->second.empty()) lease.unclaimed.erase(it);
    ++lease.in_use;
    auto& [count, holder_waker] = lease.holders[holder];
    ++count;
    holder_waker = waker;
    return true;
  };
  if (claim()) return Admission::Go();
  auto asking = lease.asking.find(holder);
  if (asking != lease.asking.end()) {
    asking->second = waker;  // one ask per site at a time
    return Admission::NotBefore(absl::InfiniteFuture(), spec.name);
  }
  const int owner = OwnerOf(spec.name);
  if (owner == shard_) {
    OwnerAsk(shard_, spec, holder);  // grants at once when there is room
    if (claim()) return Admission::Go();
  } else {
    post_(owner,
          [from = shard_, spec, holder](SharedLimits& o) { o.OwnerAsk(from, spec, holder); });
  }
  lease.asking[holder] = waker;
  return Admission::NotBefore(absl::InfiniteFuture(), spec.name);
}

void SharedLimits::OnGranted(const std::string& name, const void* holder) {
  ConnectionLease& lease = connection_leases_[name];
  lease.unclaimed[holder].push_back(clock_->Now());
  if (auto it = lease.asking.find(holder); it != lease.asking.end()) {
    WakeLater(std::move(it->second));
    lease.asking.erase(it);
  }
  ScheduleReturnIdle();  // in case the site does not take it after all
}

void SharedLimits::ReleaseConnection(const std::string& name, const void* holder) {
  auto it = connection_leases_.find(name);
  if (it == connection_leases_.end() || it->second.in_use == 0) return;
  ConnectionLease& lease = it->second;
  --lease.in_use;
  if (auto h = lease.holders.find(holder); h != lease.holders.end() && --h->second.first <= 0) {
    lease.holders.erase(h);
  }
  ReturnSlot(name);
}

void SharedLimits::ReturnSlot(const std::string& name) {
  const int owner = OwnerOf(name);
  if (owner == shard_) {
    OwnerReturn(shard_, name);
  } else {
    post_(owner, [from = shard_, name](SharedLimits& o) { o.OwnerReturn(from, name); });
  }
}

void SharedLimits::OnContended(const std::string& name, bool contended) {
  ConnectionLease& lease = connection_leases_[name];
  lease.contended = contended;
  if (!contended) return;
  for (const auto& [holder, entry] : lease.holders) WakeLater(entry.second);
}

bool SharedLimits::contended(const std::string& name) const {
  // Also for a site that waits itself: it is asked only about connections it keeps idle, which
  // it does not need now, and its own ask may be stale (its work went out on the others). A
  // site that kept them because it waits could hold slots from everyone for a whole
  // idle_timeout.
  auto it = connection_leases_.find(name);
  return it != connection_leases_.end() && it->second.contended;
}

int SharedLimits::connections_in_use(const std::string& name) const {
  auto it = connection_leases_.find(name);
  return it == connection_leases_.end() ? 0 : it->second.in_use;
}

// ---- Connections: the owner ----

SharedLimits::OwnedConnections& SharedLimits::Owned(const config::SharedLimitSpec& spec) {
  OwnedConnections& owned = owned_connections_[spec.name];
  if (owned.told.empty()) {
    owned.told.assign(shards_, false);
    owned.out_by_shard.assign(shards_, 0);
  }
  // A new config's limit applies to the next grant; slots out stay out until returned.
  owned.limit = spec.connections;
  return owned;
}

void SharedLimits::OwnerAsk(int from, const config::SharedLimitSpec& spec, const void* holder) {
  OwnedConnections& owned = Owned(spec);
  owned.queue.push_back({from, holder});
  OwnerGrantQueued(spec.name, owned);
}

void SharedLimits::OwnerReturn(int from, const std::string& name) {
  auto it = owned_connections_.find(name);
  if (it == owned_connections_.end() || it->second.out_by_shard[from] == 0) return;
  OwnedConnections& owned = it->second;
  --owned.out;
  --owned.out_by_shard[from];
  OwnerGrantQueued(name, owned);
}

void SharedLimits::OwnerGrantQueued(const std::string& name, OwnedConnections& owned) {
  while (owned.out < owned.limit && !owned.queue.empty()) {
    const OwnedConnections::Ask ask = owned.queue.front();
    owned.queue.pop_front();
    ++owned.out;
    ++owned.out_by_shard[ask.shard];
    if (ask.shard == shard_) {
      OnGranted(name, ask.holder);
    } else {
      post_(ask.shard, [name, holder = ask.holder](SharedLimits& s) { s.OnGranted(name, holder); });
    }
  }
  OwnerTellContended(name, owned, !owned.queue.empty());
}

void SharedLimits::OwnerTellContended(const std::string& name, OwnedConnections& owned,
                                      bool contended) {
  for (int i = 0; i < shards_; ++i) {
    // Told when it holds slots; told again once nobody waits.
    const bool tell = contended ? owned.out_by_shard[i] > 0 && !owned.told[i] : owned.told[i];
    if (!tell) continue;
    owned.told[i] = contended;
    if (i == shard_) {
      OnContended(name, contended);
    } else {
      post_(i, [name, contended](SharedLimits& s) { s.OnContended(name, contended); });
    }
  }
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
    not_before = throttle.Peek(now).not_before();
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
  std::vector<Waker> waiters;
  waiters.swap(lease.waiters);
  for (Waker& waker : waiters) WakeLater(std::move(waker));
  ScheduleReturnIdle();
}

// ---- Returning what is not used ----

void SharedLimits::ScheduleReturnIdle() {
  if (!return_idle_.active()) return_idle_.Start(kRateLeaseTtl);
}

void SharedLimits::ReturnIdle() {
  const absl::Time now = clock_->Now();
  bool again = false;
  for (auto& [name, lease] : connection_leases_) {
    std::vector<const void*> emptied;
    for (auto& [holder, grants] : lease.unclaimed) {
      const size_t before = grants.size();
      grants.erase(std::remove_if(grants.begin(), grants.end(),
                                  [&](absl::Time at) { return now - at >= kUnclaimedGrantTtl; }),
                   grants.end());
      for (size_t i = grants.size(); i < before; ++i) ReturnSlot(name);
      if (grants.empty()) emptied.push_back(holder);
      again = again || !grants.empty();
    }
    for (const void* holder : emptied) lease.unclaimed.erase(holder);
  }
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
