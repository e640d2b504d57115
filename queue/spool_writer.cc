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
    : spool_(spool), observer_(std::move(observer)), loader_(spool, clock) {
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
                         std::vector<RecipientRecord> recipients, Done done, RecipientFilter keep,
                         std::vector<RecipientRef> completes) {
  Op op;
  op.kind = Op::Kind::kInsert;
  op.meta = std::move(meta);
  op.body = std::move(body);
  op.recipients = std::move(recipients);
  op.filter = std::move(keep);
  op.completes = std::move(completes);
  pending_inserts_.fetch_add(1, std::memory_order_relaxed);
  op.done = [this, done = std::move(done)](absl::Status status) mutable {
    pending_inserts_.fetch_sub(1, std::memory_order_relaxed);
    std::move(done)(std::move(status));
  };
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
  // The writer thread starts the loader with these, under the mutex: the loader is its alone.
  pending_loader_options_ = options;
  pending_load_ = std::move(load);
  loader_start_pending_ = true;
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
  SpoolWriterStats stats;
  {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    stats = stats_;
  }
  const DueLoaderStats loader = loader_.stats();
  stats.loaded = loader.loaded;
  stats.load_passes = loader.passes;
  return stats;
}

void SpoolWriter::Run() {
  std::vector<Op> ops;
  bool start_load = false;
  while (TakeWork(&ops, &start_load)) {
    const bool wrote = !ops.empty();
    CommitInSlices(ops);
    ops.clear();
    AfterRound(wrote);
    // After the commits, so that the loader sees what they did to the resident set.
    loader_.Tick(start_load);
    start_load = false;
  }
  // A clean stop leaves nothing for the next start to replay from the WAL.
  if (!flushed_since_write_ && healthy()) {
    absl::Status flushed = spool_->FlushMemtables(/*wait=*/true);
    if (!flushed.ok()) LOG(WARNING) << flushed;
  }
}

bool SpoolWriter::TakeWork(std::vector<Op>* ops, bool* start_load) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [this] { return !queue_.empty() || stopping_ || loader_start_pending_; };
  if (!healthy()) {
    wake_.wait_for(lock, absl::ToChronoMilliseconds(kProbeInterval), ready);
  } else if (loader_.started()) {
    // The loader's times are on its clock (simulated in tests); wake on the real clock often
    // enough to notice them.
    wake_.wait_for(lock, absl::ToChronoMilliseconds(loader_.PollInterval()), ready);
  } else if (flushed_since_write_) {
    wake_.wait(lock, ready);
  } else {
    wake_.wait_for(lock, absl::ToChronoMilliseconds(kIdleFlushAfter), ready);
  }
  if (queue_.empty() && stopping_) return false;
  ops->swap(queue_);
  if (loader_start_pending_) {
    loader_start_pending_ = false;
    loader_.Start(pending_loader_options_, std::move(pending_load_));
    *start_load = true;
  }
  return true;
}

void SpoolWriter::CommitInSlices(std::vector<Op>& ops) {
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
}

void SpoolWriter::AfterRound(bool wrote) {
  if (wrote) {
    last_write_ = absl::Now();
    flushed_since_write_ = false;
    return;
  }
  if (!healthy()) {
    std::vector<Op> probe(1);  // a kFlush: Commit writes the recipient count, synced
    Commit(probe);
    return;
  }
  if (flushed_since_write_ || absl::Now() - last_write_ < kIdleFlushAfter) return;
  // The flow has paused: flush the memtables so that the WAL files go, messages stored and
  // removed in the meantime leave no trace on disk, and the memory of the memtables goes back
  // to the system (a large queue waiting for a site otherwise holds up to four bodies
  // memtables). Writes arriving meanwhile wait for it (well under a second).
  flushed_since_write_ = true;
  if (spool_->MemtableBytes() < kIdleFlushMinBytes) return;
  absl::Status flushed = spool_->FlushMemtables(/*wait=*/true);
  if (!flushed.ok()) {
    LOG(WARNING) << flushed;
    return;
  }
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.idle_flushes;
}

void SpoolWriter::Commit(std::vector<Op>& ops) {
  // After a failed write RocksDB may refuse writes until told to resume.
  if (!healthy()) {
    absl::Status resumed = spool_->Resume();
    if (!resumed.ok()) LOG_EVERY_N_SEC(WARNING, 5) << "spool still failing: " << resumed;
  }
  Spool::Batch batch = spool_->NewBatch();
  Tally tally;
  AddToBatch(ops, batch, tally);
  absl::Status status = absl::OkStatus();
  if (batch.count() > 0 || tally.sync) status = WriteBatch(batch, tally, ops.size());
  healthy_.store(status.ok(), std::memory_order_relaxed);
  if (!status.ok()) {
    LOG_EVERY_N_SEC(ERROR, 5) << "spool commit of " << ops.size() << " changes failed: " << status;
  }
  AfterCommit(ops, tally, status.ok());
  for (Op& op : ops) {
    if (!op.done) continue;
    if (op.filtered_out && status.ok()) {
      std::move(op.done)(absl::FailedPreconditionError("no recipient was kept"));
    } else {
      std::move(op.done)(status);
    }
  }
}

void SpoolWriter::AddRemoval(const RecipientRef& ref, Spool::Batch& batch, Tally& tally) {
  const MessageId id = ref.id;
  if (!remaining_.contains(id) && !tally.counted.contains(id)) {
    absl::StatusOr<uint32_t> count = spool_->CountRecipients(id);
    if (!count.ok()) {
      LOG(ERROR) << "cannot count the recipients of " << FormatQueueId(id) << ": "
                 << count.status();
    }
    tally.counted[id] = count.ok() ? *count : UINT32_MAX;
  }
  batch.DeleteRecipient(id, ref.index, ref.due);
  ++tally.done_counts[id];
  --tally.queued_delta;
}

void SpoolWriter::AfterRemoval(const RecipientRef& ref, bool ok, bool let_go) {
  if (ok) {
    loader_.RemoveResident(ref.id, ref.index);
  } else if (let_go) {
    // Still in the spool: let the loader find it again (a duplicate, never a loss).
    loader_.LetGo(ref.id, ref.index, ref.due);
  }
}

void SpoolWriter::AddToBatch(std::vector<Op>& ops, Spool::Batch& batch, Tally& tally) {
  for (Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kInsert:
        // What the new message completes goes with it, also when no recipient of it is kept.
        for (const RecipientRef& ref : op.completes) AddRemoval(ref, batch, tally);
        if (op.filter) {
          std::vector<RecipientRecord> kept;
          for (RecipientRecord& r : op.recipients) {
            if (!op.filter(op.meta, r)) continue;
            r.index = static_cast<uint32_t>(kept.size());
            kept.push_back(std::move(r));
          }
          op.recipients = std::move(kept);
          op.meta.num_recipients = static_cast<uint32_t>(op.recipients.size());
          if (op.recipients.empty()) {
            op.filtered_out = true;
            break;
          }
        }
        batch.PutMessage(op.meta, *op.body, op.recipients);
        tally.sync = true;
        ++tally.messages;
        tally.queued_delta += static_cast<int64_t>(op.recipients.size());
        break;
      case Op::Kind::kDone:
        AddRemoval(RecipientRef{op.meta.id, op.index, op.due}, batch, tally);
        break;
      case Op::Kind::kReschedule:
        batch.UpdateRecipient(op.meta.id, op.recipients.front(), op.due);
        break;
      case Op::Kind::kFlush:
        tally.sync = true;
        break;
    }
  }
  auto remaining_of = [&](MessageId id) -> uint32_t {
    if (auto it = remaining_.find(id); it != remaining_.end()) return it->second;
    if (auto it = tally.counted.find(id); it != tally.counted.end()) return it->second;
    return UINT32_MAX;
  };
  for (const auto& [id, count] : tally.done_counts) {
    if (remaining_of(id) <= count) batch.DeleteMessage(id);
  }
  if (tally.queued_delta != 0 || (batch.count() == 0 && !healthy())) {
    // (A probe after a failure writes something real, to see the write path work again.)
    batch.SetRecipientCount(
        static_cast<uint64_t>(static_cast<int64_t>(queued_count_) + tally.queued_delta));
  }
}

absl::Status SpoolWriter::WriteBatch(Spool::Batch& batch, const Tally& tally, size_t ops) {
  const absl::Time start = absl::Now();
  absl::Status status = spool_->Write(&batch, tally.sync);
  const absl::Duration elapsed = absl::Now() - start;
  {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.commits;
    if (tally.sync) ++stats_.synced_commits;
    stats_.messages += tally.messages;
    stats_.operations += ops;
    stats_.commit_time += elapsed;
    stats_.max_commit_time = std::max(stats_.max_commit_time, elapsed);
    if (!status.ok()) ++stats_.failed_commits;
  }
  if (observer_) observer_(elapsed, tally.messages, status.ok());
  return status;
}

void SpoolWriter::AfterCommit(std::vector<Op>& ops, const Tally& tally, bool ok) {
  if (ok) {
    queued_count_ = static_cast<uint64_t>(static_cast<int64_t>(queued_count_) + tally.queued_delta);
    queued_.store(queued_count_, std::memory_order_relaxed);
    for (const auto& [id, count] : tally.counted) remaining_[id] = count;
    for (const auto& [id, count] : tally.done_counts) {
      auto it = remaining_.find(id);
      if (it == remaining_.end()) continue;
      if (it->second <= count) {
        remaining_.erase(it);
      } else {
        it->second -= count;
      }
    }
  }
  // The loader learns, in commit order, which recipients the engine holds.
  for (Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kInsert:
        // Not written: the engine still holds them and tries the insert again.
        for (const RecipientRef& ref : op.completes) AfterRemoval(ref, ok, /*let_go=*/false);
        if (!ok || op.filtered_out) break;
        remaining_[op.meta.id] = static_cast<uint32_t>(op.recipients.size());
        loader_.AddResident(op.meta.id, op.recipients);
        break;
      case Op::Kind::kDone:
        AfterRemoval(RecipientRef{op.meta.id, op.index, op.due}, ok, /*let_go=*/true);
        break;
      case Op::Kind::kReschedule: {
        // Kept: the engine holds it (even if the write failed; the spool then still has the
        // old state, which is harmless). Let go: the loader reads it back when it comes due,
        // from wherever the index has it.
        if (op.keep) break;
        const RecipientRecord& record = op.recipients.front();
        loader_.LetGo(op.meta.id, record.index, ok ? record.next_due : op.due);
        break;
      }
      case Op::Kind::kFlush:
        break;
    }
  }
}

}  // namespace volley::queue
