// The resolver's answer cache: LRU with TTL expiry and serve-stale, without libuv
// or c-ares, so that it can be tested with a SimulatedClock alone. See dns/README.md.
#ifndef VOLLEY_DNS_DNS_CACHE_H_
#define VOLLEY_DNS_DNS_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dns/resolver.h"
#include "engine/base/clock.h"

namespace volley::dns {

// Which question an answer is for: Resolve (the MX set) or ResolveHost (one
// host's addresses). A name has one answer of each kind, and they differ, so
// the cache keeps them apart.
enum class AnswerKind { kMx = 0, kHost = 1 };

struct DnsCacheOptions {
  size_t max_entries = 100000;  // both kinds together; zero caches nothing
  // Bounds on how long an answer lives, whatever the TTL of its records.
  absl::Duration min_ttl = absl::Seconds(30);
  absl::Duration max_ttl = absl::Hours(24);
  // How long past its expiry a kOk answer may still be served in place of a
  // failed refresh. Zero turns serve-stale off.
  absl::Duration serve_stale = absl::Hours(1);
};

// Answers by kind and lookup-form name (dns_wire.h, ToLookupName), each shared
// with the requests it answers. An entry is fresh until its result's
// `expires`; least recently used entries are evicted beyond max_entries.
//
// Not thread-safe: all calls on the owning resolver's loop thread. Find of a
// fresh entry allocates nothing: the index is keyed by string_views into the
// LRU nodes, and a hit moves its node to the front with splice.
class DnsCache {
 public:
  DnsCache(const DnsCacheOptions& options, Clock& clock);
  DnsCache(const DnsCache&) = delete;
  DnsCache& operator=(const DnsCache&) = delete;

  // When an answer whose records have TTL `ttl_seconds` expires: now plus the
  // TTL clamped to [min_ttl, max_ttl]. No TTL counts as min_ttl.
  absl::Time ExpiryFor(std::optional<uint32_t> ttl_seconds) const;

  // The fresh answer for `name`, made the most recently used; null if there is
  // none. An expired entry is dropped, unless it is a kOk answer still inside
  // its serve-stale window, which FindStale may yet need.
  std::shared_ptr<const MxResult> Find(AnswerKind kind, absl::string_view name);

  // Stores `result` as the answer for `name`, replacing an older one, fresh
  // until result->expires. Evicts the least recently used entries beyond
  // max_entries.
  void Insert(AnswerKind kind, absl::string_view name, std::shared_ptr<const MxResult> result);

  // The answer to serve when a refresh of `name` failed temporarily: a copy of
  // the cached kOk answer, if its serve-stale window (expires + serve_stale)
  // has not ended, with `stale` set and `expires` min_ttl ahead (not past the
  // window's end), so that the caller asks again soon. The entry itself stays
  // as it is, so that the next request tries the refresh again. Otherwise
  // null, and the entry, if any, is dropped: an expired NXDOMAIN or null MX
  // would bounce mail on data nobody can confirm, where a deferral costs
  // little.
  std::shared_ptr<const MxResult> FindStale(AnswerKind kind, absl::string_view name);

  size_t size() const { return lru_.size(); }

 private:
  static constexpr size_t kKinds = 2;

  struct Node {
    AnswerKind kind;
    std::string name;
    absl::Time expires;  // result->expires, kept here to save a pointer chase on hits
    std::shared_ptr<const MxResult> result;
  };
  using List = std::list<Node>;
  // Keys point into the nodes' `name`, which list nodes keep in place.
  using Index = absl::flat_hash_map<absl::string_view, List::iterator>;

  Index& IndexFor(AnswerKind kind) { return index_[static_cast<size_t>(kind)]; }
  void Erase(List::iterator node);

  const DnsCacheOptions options_;
  Clock& clock_;
  List lru_;  // front: most recently used
  Index index_[kKinds];
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_DNS_CACHE_H_
