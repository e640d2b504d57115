// The engine's IP warm-up ledger: one WarmupState (warmup_state.h) per warming egress source x
// provider, shared by every shard's sites through WarmupCaps, and kept in the spool (state
// records of kind "warmup") so that a restart goes on where the schedule was. Only sources
// with a `warmup` schedule have caps, so warm sources' messages never take the ledger's lock.
//
// The counts reach the spool every `interval` (a minute) and when the ledger is destroyed, not
// at each message: a crash forgets at most that much of the counts, never the schedule's day
// once it was written.
#ifndef VOLLEY_ENGINE_ADAPTIVE_WARMUP_LEDGER_H_
#define VOLLEY_ENGINE_ADAPTIVE_WARMUP_LEDGER_H_

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "engine/adaptive/warmup_state.h"
#include "engine/base/periodic_thread.h"
#include "engine/config/config.h"
#include "engine/shaping/source_cap.h"
#include "queue/spool.h"

namespace volley::adaptive {

class WarmupLedger;

// A state in the ledger; under the ledger's lock.
struct WarmupEntry {
  explicit WarmupEntry(WarmupState s) : state(std::move(s)) {}
  WarmupState state;
  bool dirty = true;  // changed since it was last written
};

// One warming source's cap toward one provider under one schedule. Made by a site queue for
// each warming source of its pool (on its shard's loop), used there; the ledger behind it is
// shared. `schedule` must outlive it (the site's route keeps its config alive).
class WarmupCap final : public shaping::SourceCap {
 public:
  shaping::Admission Peek(absl::Time now) override;
  shaping::Admission Take(absl::Time now) override;
  void Return(absl::Time now) override;
  int64_t Available(absl::Time now) override;
  // The replies to a transaction from the source: `tried` recipients, `deferred` with a 4xx.
  void CountReplies(int tried, int deferred, absl::Time now);
  // WarmupState::ExplainJson.
  std::string ExplainJson(absl::Time now);

  const std::string& source() const { return source_; }
  const std::string& provider() const { return provider_; }
  const config::WarmupSchedule* schedule() const { return schedule_; }

 private:
  friend class WarmupLedger;
  WarmupCap(WarmupLedger* ledger, WarmupEntry* entry, std::string source, std::string provider,
            const config::WarmupSchedule* schedule)
      : ledger_(ledger),
        entry_(entry),
        source_(std::move(source)),
        provider_(std::move(provider)),
        schedule_(schedule) {}

  WarmupLedger* const ledger_;
  WarmupEntry* const entry_;
  const std::string source_;
  const std::string provider_;
  const config::WarmupSchedule* const schedule_;
};

// Thread-safe. Load and Flush write or read the spool and block: the engine calls them at
// start, from the flush thread and at stop.
class WarmupLedger {
 public:
  explicit WarmupLedger(queue::Spool* spool) : spool_(spool) {}
  ~WarmupLedger();  // stops the flush thread, then flushes
  WarmupLedger(const WarmupLedger&) = delete;
  WarmupLedger& operator=(const WarmupLedger&) = delete;

  // Reads the states the spool holds. One that cannot be read is dropped (its source starts its
  // schedule again toward that provider, the cautious way) and said so in the log.
  absl::Status Load();
  // Writes the states that changed since the last flush.
  absl::Status Flush();
  // Calls Flush every `interval` on a thread of its own.
  void StartFlushing(absl::Duration interval = absl::Minutes(1));

  // The cap of `source` toward `provider`; its state starts day 1 at `now` if it has none yet.
  std::unique_ptr<WarmupCap> Cap(const std::string& source, const std::string& provider,
                                 const config::WarmupSchedule* schedule, absl::Time now);

  // Each state's source, provider and WarmupState::ToJson (for tests and the read-out).
  std::vector<std::pair<std::pair<std::string, std::string>, std::string>> States() const;

 private:
  friend class WarmupCap;
  using Key = std::pair<std::string, std::string>;  // source, provider

  queue::Spool* const spool_;
  mutable std::mutex mutex_;
  absl::node_hash_map<Key, WarmupEntry> entries_;  // node map: caps hold pointers
  std::mutex flush_mutex_;  // flushes one at a time, so that writes land in order
  PeriodicThread flusher_;
};

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_WARMUP_LEDGER_H_
