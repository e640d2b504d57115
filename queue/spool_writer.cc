#include "queue/spool_writer.h"

#include <algorithm>
#include <future>
#include <utility>

#include "absl/time/clock.h"
#include "engine/base/logging.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace volley::queue {
namespace {

// A commit takes at most this many changes, so one huge burst cannot hold back the replies of
// the messages at its front for long.
constexpr size_t kMaxOpsPerCommit = 4096;
constexpr size_t kMaxBytesPerCommit = 32ull << 20;
// After a failed commit, how often an idle writer tries a write to see the spool work again.
constexpr absl::Duration kProbeInterval = absl::Milliseconds(200);
// Without writes for this long, memtables holding at least kIdleFlushMinBytes are flushed.
constexpr absl::Duration kIdleFlushAfter = absl::Seconds(5);
constexpr uint64_t kIdleFlushMinBytes = 1 << 20;

}  // namespace

SpoolWriter::SpoolWriter(Spool* spool, CommitObserver observer, Clock& clock)
    : spool_(spool), observer_(std::move(observer)), clock_(clock) {
  absl::StatusOr<uint64_t> count = spool_->RecipientCount();
  if (count.ok()) {
    queued_count_ = *count;
  } else {
    LOG(ERROR) << "cannot read the spool's recipient count: " << count.status();
  }
  queued_.store(queued_count_, std::memory_order_relaxed);
  thread_ = std::thread([this] { Run(); });
}

SpoolWriter::~SpoolWriter() { Stop(); }

void SpoolWriter::Enqueue(Op op) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      if (queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  if (op.done) std::move(op.done)(absl::UnavailableError("the spool writer has stopped"));
}

void SpoolWriter::Insert(MessageMeta meta, std::shared_ptr<const std::string> body,
                         std::vector<RecipientRecord> recipients, Done done) {
  Op op;
  op.kind = Op::Kind::kInsert;
  op.meta = std::move(meta);
  op.body = std::move(body);
  op.recipients = std::move(recipients);
  op.done = std::move(done);
  Enqueue(std::move(op));
}

void SpoolWriter::RecipientDone(MessageId id, uint32_t index, absl::Time due) {
  Op op;
  op.kind = Op::Kind::kDone;
  op.meta.id = id;
  op.index = index;
  op.due = due;
  Enqueue(std::move(op));
}

void SpoolWriter::Reschedule(MessageId id, RecipientRecord record, absl::Time old_due,
                             bool keep_in_memory) {
  Op op;
  op.kind = Op::Kind::kReschedule;
  op.meta.id = id;
  op.recipients.push_back(std::move(record));
  op.due = old_due;
  op.keep = keep_in_memory;
  Enqueue(std::move(op));
}

void SpoolWriter::StartLoader(const LoaderOptions& options, LoadFn load) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Read by the writer thread outside the mutex only after it has seen load_ set under it.
  loader_options_ = options;
  load_ = std::move(load);
  load_requested_ = true;
  wake_.notify_one();
}

void SpoolWriter::Flush() {
  std::promise<void> flushed;
  std::future<void> future = flushed.get_future();
  Op op;
  op.kind = Op::Kind::kFlush;
  op.done = [&flushed](absl::Status) { flushed.set_value(); };
  Enqueue(std::move(op));
  future.wait();
}

void SpoolWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  std::call_once(join_once_, [this] {
    if (thread_.joinable()) thread_.join();
  });
}

SpoolWriterStats SpoolWriter::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

void SpoolWriter::Run() {
  std::vector<Op> ops;
  absl::Time last_load = absl::InfinitePast();  // real time, to pace loads after deliveries
  bool room_made = false;
  absl::Time last_write = absl::Now();  // real time, for the idle flush
  bool flushed_since_write = true;
  // Whether StartLoader has run, as seen under the mutex: load_ is written once, by
  // StartLoader, and read outside the mutex only after this was seen true.
  bool loader_started = false;
  while (true) {
    bool load = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto ready = [this] { return !queue_.empty() || stopping_ || load_requested_; };
      if (!healthy_.load(std::memory_order_relaxed)) {
        wake_.wait_for(lock, absl::ToChronoMilliseconds(kProbeInterval), ready);
      } else if (!load_ && flushed_since_write) {
        wake_.wait(lock, ready);
      } else if (!load_) {
        wake_.wait_for(lock, absl::ToChronoMilliseconds(kIdleFlushAfter), ready);
      } else {
        // The loader's times are on clock_ (simulated in tests); wake on the real clock often
        // enough to notice them.
        wake_.wait_for(lock, std::chrono::milliseconds(room_made ? 10 : 100), ready);
      }
      if (queue_.empty() && stopping_) {
        // A clean stop leaves nothing for the next start to replay from the WAL.
        if (!flushed_since_write && healthy_.load(std::memory_order_relaxed)) {
          absl::Status flushed = spool_->FlushMemtables(/*wait=*/true);
          if (!flushed.ok()) LOG(WARNING) << flushed;
        }
        return;
      }
      ops.swap(queue_);
      loader_started = static_cast<bool>(load_);
      load = load_requested_;
      load_requested_ = false;
    }
    const size_t resident_before = resident_.size();
    // Commit in slices so one burst does not become one enormous write.
    size_t begin = 0;
    while (begin < ops.size()) {
      size_t end = begin;
      size_t bytes = 0;
      while (end < ops.size() && end - begin < kMaxOpsPerCommit && bytes < kMaxBytesPerCommit) {
        if (ops[end].body) bytes += ops[end].body->size();
        ++end;
      }
      std::vector<Op> slice(std::make_move_iterator(ops.begin() + begin),
                            std::make_move_iterator(ops.begin() + end));
      Commit(slice);
      begin = end;
    }
    const bool wrote = !ops.empty();
    ops.clear();
    if (wrote) {
      last_write = absl::Now();
      flushed_since_write = false;
    } else if (!healthy_.load(std::memory_order_relaxed)) {
      std::vector<Op> probe(1);  // a kFlush: Commit writes the recipient count, synced
      Commit(probe);
    } else if (!flushed_since_write && absl::Now() - last_write >= kIdleFlushAfter) {
      // The flow has paused: flush the memtables so that the WAL files go, messages stored
      // and removed in the meantime leave no trace on disk, and the memory of the memtables
      // goes back to the system (a large queue waiting for a site otherwise holds up to
      // four bodies memtables). Writes arriving meanwhile wait for it (well under a second).
      flushed_since_write = true;
      if (spool_->MemtableBytes() >= kIdleFlushMinBytes) {
        absl::Status flushed = spool_->FlushMemtables(/*wait=*/true);
        if (!flushed.ok()) LOG(WARNING) << flushed;
#if defined(__GLIBC__)
        malloc_trim(0);
#endif
      }
    }
    if (!loader_started) continue;
    // Load when asked, when the interval has passed, or soon after deliveries made room (at
    // most every 10 ms: every delivery makes room).
    if (resident_.size() < resident_before) room_made = true;
    const absl::Time real_now = absl::Now();
    const bool paced_room = room_made && resident_.size() < loader_options_.budget &&
                            real_now - last_load >= absl::Milliseconds(10);
    if (load || paced_room || clock_.Now() >= next_load_) {
      last_load = real_now;
      room_made = false;
      LoadDue();
    }
  }
}

void SpoolWriter::LoadDue() {
  const absl::Time now = clock_.Now();
  next_load_ = now + loader_options_.interval;
  if (!load_ || resident_.size() >= loader_options_.budget) return;
  const size_t limit = loader_options_.budget - resident_.size();
  ScheduleKey next;
  absl::StatusOr<std::vector<DueRecipient>> due = spool_->ReadDue(
      cursor_, now + loader_options_.horizon, limit,
      [this](MessageId id, uint32_t index) {
        return resident_.contains(RecipientKey{id, index});
      },
      &next);
  if (!due.ok()) {
    LOG(ERROR) << "cannot read due recipients from the spool: " << due.status();
    return;
  }
  cursor_ = next;
  if (due->empty()) return;
  for (const DueRecipient& d : *due) resident_.insert(RecipientKey{d.key.id, d.key.index});
  SetResidentCount();
  {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    stats_.loaded += due->size();
  }
  // More may be due than the budget allowed: look again soon rather than in a full interval.
  if (due->size() == limit) next_load_ = now + loader_options_.interval / 10;
  load_(*std::move(due));
}

void SpoolWriter::Commit(std::vector<Op>& ops) {
  // After a failed write RocksDB may refuse writes until told to resume.
  if (!healthy_.load(std::memory_order_relaxed)) {
    absl::Status resumed = spool_->Resume();
    if (!resumed.ok()) LOG_EVERY_N_SEC(WARNING, 5) << "spool still failing: " << resumed;
  }
  Spool::Batch batch = spool_->NewBatch();
  bool sync = false;
  int messages = 0;
  int64_t queued_delta = 0;
  absl::flat_hash_map<MessageId, uint32_t> done_counts;
  // Remaining counts read for this commit (messages not seen since the start).
  absl::flat_hash_map<MessageId, uint32_t> counted;

  for (Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kInsert:
        batch.PutMessage(op.meta, *op.body, op.recipients);
        sync = true;
        ++messages;
        queued_delta += static_cast<int64_t>(op.recipients.size());
        break;
      case Op::Kind::kDone: {
        const MessageId id = op.meta.id;
        if (!remaining_.contains(id) && !counted.contains(id)) {
          absl::StatusOr<uint32_t> count = spool_->CountRecipients(id);
          if (!count.ok()) {
            LOG(ERROR) << "cannot count the recipients of " << FormatQueueId(id) << ": "
                       << count.status();
          }
          counted[id] = count.ok() ? *count : UINT32_MAX;
        }
        batch.DeleteRecipient(id, op.index, op.due);
        ++done_counts[id];
        --queued_delta;
        break;
      }
      case Op::Kind::kReschedule:
        batch.UpdateRecipient(op.meta.id, op.recipients.front(), op.due);
        break;
      case Op::Kind::kFlush:
        sync = true;
        break;
    }
  }

  auto remaining_of = [&](MessageId id) -> uint32_t {
    if (auto it = remaining_.find(id); it != remaining_.end()) return it->second;
    if (auto it = counted.find(id); it != counted.end()) return it->second;
    return UINT32_MAX;
  };
  std::vector<MessageId> completed;
  for (const auto& [id, count] : done_counts) {
    if (remaining_of(id) <= count) {
      batch.DeleteMessage(id);
      completed.push_back(id);
    }
  }
  if (queued_delta != 0 || (batch.count() == 0 && !healthy_.load(std::memory_order_relaxed))) {
    // (A probe after a failure writes something real, to see the write path work again.)
    batch.SetRecipientCount(
        static_cast<uint64_t>(static_cast<int64_t>(queued_count_) + queued_delta));
  }

  absl::Status status = absl::OkStatus();
  if (batch.count() > 0 || sync) {
    const absl::Time start = absl::Now();
    status = spool_->Write(&batch, sync);
    const absl::Duration elapsed = absl::Now() - start;
    {
      std::lock_guard<std::mutex> lock(stats_mutex_);
      ++stats_.commits;
      if (sync) ++stats_.synced_commits;
      stats_.messages += messages;
      stats_.operations += ops.size();
      stats_.commit_time += elapsed;
      stats_.max_commit_time = std::max(stats_.max_commit_time, elapsed);
      if (!status.ok()) ++stats_.failed_commits;
    }
    if (observer_) observer_(elapsed, messages, status.ok());
  }
  healthy_.store(status.ok(), std::memory_order_relaxed);

  if (status.ok()) {
    queued_count_ = static_cast<uint64_t>(static_cast<int64_t>(queued_count_) + queued_delta);
    queued_.store(queued_count_, std::memory_order_relaxed);
    for (const auto& [id, count] : counted) remaining_[id] = count;
    for (const auto& [id, count] : done_counts) {
      auto it = remaining_.find(id);
      if (it == remaining_.end()) continue;
      if (it->second <= count) {
        remaining_.erase(it);
      } else {
        it->second -= count;
      }
    }
  } else {
    LOG_EVERY_N_SEC(ERROR, 5) << "spool commit of " << ops.size() << " changes failed: " << status;
  }

  for (Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kInsert:
        if (status.ok()) {
          remaining_[op.meta.id] = static_cast<uint32_t>(op.recipients.size());
          for (const RecipientRecord& r : op.recipients) {
            resident_.insert(RecipientKey{op.meta.id, r.index});
          }
        }
        break;
      case Op::Kind::kDone:
        resident_.erase(RecipientKey{op.meta.id, op.index});
        if (!status.ok()) {
          // Still in the spool: let the loader find it again (a duplicate, never a loss).
          cursor_ = std::min(cursor_, ScheduleKey::For(op.meta.id, op.index, op.due));
        }
        break;
      case Op::Kind::kReschedule: {
        // Kept: the engine holds it (even if the write failed; the spool then still has the
        // old state, which is harmless). Let go: the loader reads it back when it comes due,
        // from wherever the index has it.
        const RecipientRecord& record = op.recipients.front();
        if (!op.keep) {
          resident_.erase(RecipientKey{op.meta.id, record.index});
          const ScheduleKey key = status.ok()
                                      ? ScheduleKey::For(op.meta.id, record.index, record.next_due)
                                      : ScheduleKey::For(op.meta.id, record.index, op.due);
          cursor_ = std::min(cursor_, key);
        }
        break;
      }
      case Op::Kind::kFlush:
        break;
    }
  }
  SetResidentCount();

  for (Op& op : ops) {
    if (op.done) std::move(op.done)(status);
  }
}

}  // namespace volley::queue
