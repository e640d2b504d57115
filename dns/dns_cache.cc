#include "dns/dns_cache.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace volley::dns {

DnsCache::DnsCache(const DnsCacheOptions& options, Clock& clock)
    : options_(options), clock_(clock) {}

absl::Time DnsCache::ExpiryFor(std::optional<uint32_t> ttl_seconds) const {
  const absl::Duration lifetime = ttl_seconds ? absl::Seconds(*ttl_seconds) : options_.min_ttl;
  return clock_.Now() + std::clamp(lifetime, options_.min_ttl, options_.max_ttl);
}

std::shared_ptr<const MxResult> DnsCache::Find(AnswerKind kind, absl::string_view name) {
  Index& index = IndexFor(kind);
  auto it = index.find(name);
  if (it == index.end()) return nullptr;
  const List::iterator node = it->second;
  const absl::Time now = clock_.Now();
  if (now >= node->expires) {
    if (node->result->outcome != MxOutcome::kOk || now >= node->expires + options_.serve_stale) {
      Erase(node);
    }
    return nullptr;
  }
  if (node != lru_.begin()) lru_.splice(lru_.begin(), lru_, node);
  return node->result;
}

void DnsCache::Insert(AnswerKind kind, absl::string_view name,
                      std::shared_ptr<const MxResult> result) {
  if (options_.max_entries == 0) return;
  Index& index = IndexFor(kind);
  const absl::Time expires = result->expires;
  if (auto it = index.find(name); it != index.end()) {
    Node& node = *it->second;
    node.expires = expires;
    node.result = std::move(result);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Node{kind, std::string(name), expires, std::move(result)});
  index.emplace(lru_.front().name, lru_.begin());
  while (lru_.size() > options_.max_entries) Erase(std::prev(lru_.end()));
}

std::shared_ptr<const MxResult> DnsCache::FindStale(AnswerKind kind, absl::string_view name) {
  Index& index = IndexFor(kind);
  auto it = index.find(name);
  if (it == index.end()) return nullptr;
  const List::iterator node = it->second;
  const absl::Time now = clock_.Now();
  const absl::Time stale_until = node->expires + options_.serve_stale;
  if (node->result->outcome != MxOutcome::kOk || now >= stale_until) {
    Erase(node);
    return nullptr;
  }
  auto stale = std::make_shared<MxResult>(*node->result);
  stale->stale = true;
  stale->expires = std::min(now + options_.min_ttl, stale_until);
  return stale;
}

void DnsCache::Erase(List::iterator node) {
  IndexFor(node->kind).erase(node->name);
  lru_.erase(node);
}

}  // namespace volley::dns
