// Traffic shaping: what a site may do now. Before it opens a connection or starts a
// transaction, a site asks its Shaper and gets "go" or "not before T" with the limit that holds
// it back.
//
// Limits are per egress path, source x site, as in KumoMTA and PowerMTA: each source of the
// site's egress pool has its own connection_limit (concurrent connections), max_connection_rate
// (new connections per period), max_deliveries_per_connection (transactions on one connection)
// and max_message_rate (transactions, that is messages sent, per period), from the tables that
// apply to it (config/shaping_rules.h). With one source (the default pool) they are the site's.
// Shared budgets (a provider's limits, additional_connection_limits,
// additional_message_rate_throttles) are asked of the shard's SharedLimits after the path's own
// limits allow: a connection takes a slot of each connection budget and an event of each
// connection-rate budget, a message an event of each message-rate budget.
// A suspended source (adaptive/suspension.h) opens no connection and starts no transaction, nor
// does a warming source whose warm-up cap is full (source_cap.h); adaptive control comes in
// behind the same questions.
#ifndef VOLLEY_ENGINE_SHAPING_SHAPER_H_
#define VOLLEY_ENGINE_SHAPING_SHAPER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "engine/config/config.h"
#include "engine/shaping/admission.h"
#include "engine/shaping/shared_limits.h"
#include "engine/shaping/source_cap.h"
#include "engine/shaping/throttle.h"

namespace volley::shaping {

// One per site, owned by the site's queue. All calls on the owning shard's loop.
class Shaper {
 public:
  Shaper() = default;
  ~Shaper();  // gives back the shared slots of connections still counted

  // Where shared budgets are asked (null: none are enforced, for unit tests of the rest), and
  // what wakes the site when one that refused it may allow again.
  void Bind(SharedLimits* shared, Waker waker) {
    shared_ = shared;
    waker_ = std::move(waker);
  }

  // The limits per source (index: the egress pool's sources), from the site's latest
  // resolution with what response rules override, which the caller keeps alive while they are
  // set; call again when they change. The rates keep what has been spent; a source keeps its
  // connections, counted by its index in the pool.
  void set_limits(const std::vector<config::ShapingConfig>* by_source);

  // A new connection: the next source in turn whose limits allow one now. A "go" sets
  // `*source` and counts the connection as open (until ConnectionClosed) and takes one from
  // that source's connection rate: the caller opens it. Otherwise the earliest time a source
  // would allow one, with the limit that held that source back.
  Admission AdmitConnection(absl::Time now, int* source);
  void ConnectionClosed(int source);
  // Another transaction on a connection from `source` that has completed `transactions`.
  Admission AdmitTransaction(int source, int transactions) const;
  // A message to send now on a connection from `source`. A "go" takes one from the source's
  // message rate: the caller sends it.
  Admission AdmitMessage(int source, absl::Time now);
  // How many messages the sources' message rates would let through at `now` (saturating at
  // UINT64_MAX), and, when none, the admission that says until when.
  uint64_t MessagesAvailable(absl::Time now) const;
  Admission NextMessage(absl::Time now) const;

  // After a reload (set_limits): false for a source the egress pool no longer has; true, and
  // counted as closing, for a connection from `source` beyond its new connection limit. The
  // caller then quits that connection.
  bool HasSource(int source) const { return source < static_cast<int>(paths_.size()); }
  bool RetireIfOverLimit(int source);

  // A suspension of `source` toward this site: while paused it opens no connection and its
  // connections start no transaction (kSuspension).
  void set_paused(int source, bool paused) { paths_[source].paused = paused; }
  bool paused(int source) const { return paths_[source].paused; }
  // A cap on `source`'s messages (null: none), which the caller keeps alive while it is set:
  // while it is full the source opens no connection and sends nothing (kWarmup).
  void set_cap(int source, SourceCap* cap) { paths_[source].cap = cap; }

  // True when a shared budget that connections from `source` hold a slot of is contended
  // (sites wait for slots): an idle connection from there should close.
  bool Contended(int source) const;
  // True when some source's limits name a shared budget (else Contended is always false).
  bool has_shared_limits() const { return has_shared_; }

  // The sum of the sources' connection limits: the most connections the site may have.
  int connection_limit() const { return connection_limit_; }
  int max_recipients_per_batch(int source) const {
    return (*limits_)[source].max_recipients_per_batch;
  }
  int open_connections(int source) const { return paths_[source].open; }

 private:
  // One egress path: a source toward this site.
  struct Path {
    int open = 0;
    int retiring = 0;  // of `open`: told to quit by RetireIfOverLimit
    bool paused = false;
    SourceCap* cap = nullptr;
    std::optional<Throttle> message_rate;
    std::optional<Throttle> connection_rate;
    // The shared connection budgets each open connection holds a slot of (most recent last).
    std::vector<std::vector<std::string>> held;
  };

  // The path's own limits for one more connection, without taking anything.
  Admission PathAllows(int source, absl::Time now) const;
  // The messages `path`'s rate and cap let through now, and when none, until when.
  uint64_t PathMessagesAvailable(const Path& path, absl::Time now) const;
  Admission PathNextMessage(const Path& path, absl::Time now) const;
  // Takes a slot or an event of each shared budget of `source` that a new connection (or, when
  // not `connection`, a message) draws from, all or nothing; `taken` gets the connection
  // budgets it holds a slot of.
  Admission TakeShared(int source, absl::Time now, bool connection,
                       std::vector<std::string>* taken);
  void GiveBackShared(const std::vector<const config::SharedLimitSpec*>& taken);

  const std::vector<config::ShapingConfig>* limits_ = nullptr;
  std::vector<Path> paths_;
  size_t next_source_ = 0;  // round-robin over the sources
  SharedLimits* shared_ = nullptr;
  Waker waker_;
  bool has_shared_ = false;
  int connection_limit_ = 0;  // the sources' connection limits, summed
};

}  // namespace volley::shaping

#endif  // VOLLEY_ENGINE_SHAPING_SHAPER_H_
