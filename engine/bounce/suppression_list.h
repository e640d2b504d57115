// The suppression list: recipients Volley must not send to (a hard bounce said the address is
// gone, a complaint, an operator), per tenant or for every tenant. Kept in the spool's
// `suppression` column family, one RocksDB entry per recipient x tenant, so that a million
// entries cost no memory beyond RocksDB's block cache and a lookup is one point read (a bloom
// filter answers most misses without reading a block).
#ifndef VOLLEY_ENGINE_BOUNCE_SUPPRESSION_LIST_H_
#define VOLLEY_ENGINE_BOUNCE_SUPPRESSION_LIST_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "engine/bounce/bounce_class.h"
#include "queue/spool.h"

namespace volley::bounce {

struct SuppressionEntry {
  std::string recipient;  // lower-cased: mailbox providers do not tell case apart
  std::string tenant;     // "" = every tenant
  std::string reason;
  std::string source;  // "admin", "bounce", "feedback", ...
  absl::Time created;
  absl::Time expires = absl::InfiniteFuture();

  // Created `now`, lasting `lifetime` (infinite: until removed).
  void SetLifetime(absl::Time now, absl::Duration lifetime) {
    created = now;
    expires = lifetime == absl::InfiniteDuration() ? absl::InfiniteFuture() : now + lifetime;
  }
};

// The entry a hard bounce of `classification` adds, when it is one of `classes` ([bounce]
// suppress_classes): for every tenant (the address is gone for all of them), lasting
// `lifetime`. A bounce in the delivery transaction and one that comes back later share it.
std::optional<SuppressionEntry> HardBounceSuppression(const std::vector<BounceClass>& classes,
                                                      BounceClass classification,
                                                      std::string recipient, std::string reason,
                                                      std::string source, absl::Time now,
                                                      absl::Duration lifetime);

// {"recipient", "tenant" | null, "reason", "source", "created", "expires" | null}.
std::string SuppressionEntryJson(const SuppressionEntry& entry);

// Thread-safe (RocksDB is); every call reads or writes the spool and blocks: call it off the
// event loops.
class SuppressionList {
 public:
  // `spool` outlives the list.
  SuppressionList(queue::Spool* spool, Clock* clock) : spool_(spool), clock_(clock) {}

  // Adds or replaces the entry for its recipient and tenant (synced unless `sync` is false: a
  // bulk load, which syncs once at its end). InvalidArgument for a recipient that is not an
  // address.
  absl::Status Add(SuppressionEntry entry, bool sync = true);
  // NotFound when there is no such entry.
  absl::Status Remove(absl::string_view recipient, absl::string_view tenant);
  // The entry that suppresses `recipient` for mail of `tenant` now: the tenant's own, else one
  // for every tenant; nullopt when none (expired entries do not count).
  absl::StatusOr<std::optional<SuppressionEntry>> Lookup(absl::string_view recipient,
                                                         absl::string_view tenant) const;

  // A page of entries in key order (recipient, then tenant), starting after the cursor `after`
  // ("" from the first); `next` is the cursor of the following page, "" when the list ended on
  // this one (a full last page is followed by an empty one). Cursors are keys: bytes, not
  // text. Expired entries met on the way are removed.
  struct Page {
    std::vector<SuppressionEntry> entries;
    std::string next;
  };
  absl::StatusOr<Page> List(absl::string_view after, size_t limit);

 private:
  queue::Spool* const spool_;
  Clock* const clock_;
};

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_SUPPRESSION_LIST_H_
