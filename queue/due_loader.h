// The loader: which queued recipients the engine holds in memory ("resident"), and reading
// from the spool's due-time index the ones that come due, within a budget of resident
// recipients and a horizon of due times, to hand them to the engine. Every other queued
// recipient lives only in the spool, so memory does not grow with the size of the queue, and
// a restart reads only what is due first.
#ifndef VOLLEY_QUEUE_DUE_LOADER_H_
#define VOLLEY_QUEUE_DUE_LOADER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "queue/spool.h"

namespace volley::queue {

struct LoaderOptions {
  // Recipients held in memory (delivering, or retrying soon) above which nothing more is read
  // from the index.
  size_t budget = 100000;
  // Recipients due within this are read into memory, and kept there when rescheduled.
  absl::Duration horizon = absl::Minutes(1);
  // How often the index is looked at.
  absl::Duration interval = absl::Seconds(1);
};

struct DueLoaderStats {
  uint64_t loaded = 0;  // recipients read from the index and handed to the engine
  uint64_t passes = 0;  // times the loader looked (also when the budget was full)
};

// Thread: owned by SpoolWriter and called only on the writer thread (except resident_count()
// and stats(), which any thread may read). It lives there because what is resident changes
// with each commit: a recipient becomes resident when its message is stored, stops being so
// when its removal is written or it is let go, and must be read back from where the index has
// it after the commit that moved it. Called in order with the commits, the loader never reads
// a recipient the engine still holds, nor misses one the engine has let go.
class DueLoader {
 public:
  // Recipients read from the index, for the engine; called on the writer thread.
  using LoadFn = absl::AnyInvocable<void(std::vector<DueRecipient>)>;

  // `spool` must outlive the loader. The loader's times (due times, its interval) are on
  // `clock`; the pacing after deliveries is on the real clock.
  DueLoader(Spool* spool, Clock& clock) : spool_(spool), clock_(clock) {}
  DueLoader(const DueLoader&) = delete;
  DueLoader& operator=(const DueLoader&) = delete;

  // From now on, Tick() reads due recipients and hands them to `load`.
  void Start(const LoaderOptions& options, LoadFn load);
  bool started() const { return static_cast<bool>(load_); }

  // What the commits did to the recipients the engine holds, reported after each commit.
  // A stored message's recipients are resident (the engine delivers them from the injection).
  void AddResident(MessageId id, const std::vector<RecipientRecord>& recipients);
  // A removal was written: the recipient is gone from memory and from the spool.
  void RemoveResident(MessageId id, uint32_t index);
  // The engine let the recipient go, and the index has it at `due`: it is read back from there
  // when it comes due (also used for a removal that failed, so that it is found again).
  void LetGo(MessageId id, uint32_t index, absl::Time due);

  // Called by the writer after each round of commits: reads due recipients when `requested`,
  // when the interval has passed, or soon after deliveries made room (at most every 10 ms,
  // since every delivery makes room).
  void Tick(bool requested);
  // Reads due recipients from the index now, as many as the budget allows, and hands them to
  // the load function (if they are any).
  void LoadDue();

  // How long the writer may wait on the real clock before the next Tick(): the loader's own
  // times are on its clock (simulated in tests), which nothing signals.
  absl::Duration PollInterval() const;

  // Recipients the engine holds in memory.
  size_t resident() const { return resident_.size(); }
  // The same, readable from any thread.
  uint64_t resident_count() const { return resident_count_.load(std::memory_order_relaxed); }
  // Readable from any thread. A pass is counted once its recipients have been handed over, so
  // a reader that sees a pass sees what it loaded.
  DueLoaderStats stats() const;

 private:
  struct Key {
    MessageId id;
    uint32_t index;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.id, k.index);
    }
  };

  void PublishResidentCount() {
    resident_count_.store(resident_.size(), std::memory_order_relaxed);
  }
  void CountPass(uint64_t loaded);

  Spool* const spool_;
  Clock& clock_;

  LoaderOptions options_;
  LoadFn load_;
  absl::flat_hash_set<Key> resident_;
  ScheduleKey cursor_;                             // where the next index read starts
  absl::Time next_load_ = absl::InfiniteFuture();  // on clock_
  absl::Time last_load_ = absl::InfinitePast();    // real time, to pace loads after deliveries
  size_t resident_after_tick_ = 0;                 // to see deliveries make room
  bool room_made_ = false;

  std::atomic<uint64_t> resident_count_{0};
  mutable std::mutex stats_mutex_;
  DueLoaderStats stats_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_DUE_LOADER_H_
