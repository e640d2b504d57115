#include "engine/delivery/host_health.h"

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace volley::delivery {
namespace {

std::string HostKey(const ConnectTarget& target) {
  return absl::StrCat(target.address, ":", target.port);
}

// True while `until` (if any) is in the future; forgets entries that have passed.
bool Active(absl::flat_hash_map<std::string, absl::Time>& map, const std::string& key,
            absl::Time now) {
  auto it = map.find(key);
  if (it == map.end()) return false;
  if (it->second > now) return true;
  map.erase(it);
  return false;
}

}  // namespace

bool HostHealth::RecentlyFailed(const ConnectTarget& target) {
  DCHECK(thread_.InLoopThread());
  return Active(failed_, HostKey(target), clock_.Now());
}

absl::Time HostHealth::FailedUntil(const ConnectTarget& target) {
  DCHECK(thread_.InLoopThread());
  auto it = failed_.find(HostKey(target));
  return it == failed_.end() ? absl::InfinitePast() : it->second;
}

void HostHealth::MarkFailed(const ConnectTarget& target) {
  DCHECK(thread_.InLoopThread());
  failed_[HostKey(target)] = clock_.Now() + kFailedHostDelay;
}

bool HostHealth::TlsRecentlyFailed(const ConnectTarget& target) {
  DCHECK(thread_.InLoopThread());
  return Active(no_tls_, HostKey(target), clock_.Now());
}

void HostHealth::MarkTlsFailed(const ConnectTarget& target) {
  DCHECK(thread_.InLoopThread());
  no_tls_[HostKey(target)] = clock_.Now() + kNoTlsDelay;
}

}  // namespace volley::delivery
