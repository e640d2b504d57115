// The engine's suspensions: kept in the spool's RocksDB (Spool::PutState, kind "suspension"),
// so that they survive a restart, and published to every shard as one immutable
// SuspensionSet each time they change. A "Suspended" log record marks each beginning and end.
#ifndef VOLLEY_ENGINE_ADAPTIVE_SUSPENSION_STORE_H_
#define VOLLEY_ENGINE_ADAPTIVE_SUSPENSION_STORE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/adaptive/suspension.h"
#include "engine/base/clock.h"
#include "engine/base/periodic_thread.h"
#include "engine/events/event.h"
#include "queue/spool.h"

namespace volley::adaptive {

// Thread-safe. Add, Lift and ExpireDue write the spool (synced) and so block: call them off
// the event loops (the engine's I/O pool). `current` does not block.
class SuspensionStore {
 public:
  // Called with the new set after every change, under the store's lock (so sets arrive in
  // order); it must not call back into the store.
  using Publish = std::function<void(std::shared_ptr<const SuspensionSet>)>;

  // `spool` and `log` (may be null) outlive the store.
  SuspensionStore(queue::Spool* spool, Clock* clock, events::EventSink* log);
  ~SuspensionStore();  // stops the expiry thread
  SuspensionStore(const SuspensionStore&) = delete;
  SuspensionStore& operator=(const SuspensionStore&) = delete;

  // Reads the suspensions the spool holds; those that expired while the engine was down end
  // (and are removed) now.
  absl::Status Load();
  void set_publish(Publish publish);

  // Stores and publishes a new suspension (its id and creation time are set here) and returns
  // it. A response rule's suspension of a target that rule already suspends extends that one
  // instead.
  absl::StatusOr<Suspension> Add(Suspension suspension);
  // Ends a suspension now; kNotFound for an id that is not active.
  absl::Status Lift(absl::string_view id);
  // Ends the suspensions whose time is up.
  absl::Status ExpireDue();

  // Calls ExpireDue every `interval` on a thread of its own (shards release what an expired
  // suspension held by themselves, at its time; this removes it from the spool, writes its
  // record and updates the list).
  void StartExpiring(absl::Duration interval = absl::Seconds(1));

  std::shared_ptr<const SuspensionSet> current() const;
  // The active suspensions, in creation order.
  std::vector<Suspension> List() const;
  // Distinct domains that a suspension names (volley_suspended_domains), and all suspensions.
  int SuspendedDomains() const;

 private:
  // With mutex_ held: publishes `all_` as the new set.
  void PublishLocked();
  void LogLocked(const Suspension& s, absl::string_view state, absl::string_view ended_by);
  // With write_mutex_ held: removes the suspensions at `indexes` (ascending) from the spool,
  // then from the set, and publishes it.
  absl::Status End(const std::vector<size_t>& indexes, absl::string_view ended_by);

  queue::Spool* const spool_;
  Clock* const clock_;
  events::EventSink* const log_;
  // Changes take write_mutex_ for their whole length (spool write included), then mutex_ for
  // the moment they change all_; readers take mutex_ only, so they never wait for the disk.
  std::mutex write_mutex_;
  mutable std::mutex mutex_;
  std::vector<Suspension> all_;  // creation order; written under both
  std::shared_ptr<const SuspensionSet> current_;
  Publish publish_;
  PeriodicThread expiry_;
};

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_SUSPENSION_STORE_H_
