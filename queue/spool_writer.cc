#include "queue/spool_writer.h"

#include <future>
#include <utility>

#include "absl/time/clock.h"
#include "engine/base/logging.h"

namespace volley::queue {
namespace {

// A commit takes at most this many changes, so one huge burst cannot hold back the replies of
// the messages at its front for long.
constexpr size_t kMaxOpsPerCommit = 4096;
constexpr size_t kMaxBytesPerCommit = 32ull << 20;

}  // namespace

SpoolWriter::SpoolWriter(Spool* spool, CommitObserver observer)
    : spool_(spool), observer_(std::move(observer)) {
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
  if (op.done) {
    std::move(op.done)(absl::UnavailableError("the spool writer has stopped"));
  }
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

void SpoolWriter::RecipientDone(MessageId id, uint32_t index) {
  Op op;
  op.kind = Op::Kind::kDone;
  op.meta.id = id;
  op.index = index;
  Enqueue(std::move(op));
}

void SpoolWriter::Reschedule(MessageId id, RecipientRecord record) {
  Op op;
  op.kind = Op::Kind::kReschedule;
  op.meta.id = id;
  op.recipients.push_back(std::move(record));
  Enqueue(std::move(op));
}

void SpoolWriter::Track(MessageId id, uint32_t remaining) {
  Op op;
  op.kind = Op::Kind::kTrack;
  op.meta.id = id;
  op.index = remaining;
  Enqueue(std::move(op));
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
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) return;
      ops.swap(queue_);
    }
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
    ops.clear();
  }
}

void SpoolWriter::Commit(std::vector<Op>& ops) {
  Spool::Batch batch = spool_->NewBatch();
  bool sync = false;
  int messages = 0;
  // Messages whose last recipient this batch removes; applied to remaining_ only when the write
  // succeeds, so a failed write leaves the counts matching the spool.
  std::vector<MessageId> inserted;
  absl::flat_hash_map<MessageId, uint32_t> done_counts;

  for (Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kInsert:
        batch.PutMessage(op.meta, *op.body, op.recipients);
        sync = true;
        ++messages;
        break;
      case Op::Kind::kDone:
        batch.DeleteRecipient(op.meta.id, op.index);
        ++done_counts[op.meta.id];
        break;
      case Op::Kind::kReschedule:
        batch.PutRecipient(op.meta.id, op.recipients.front());
        break;
      case Op::Kind::kTrack:
        if (remaining_.emplace(op.meta.id, op.index).second) {
          tracked_.fetch_add(1, std::memory_order_relaxed);
        }
        break;
      case Op::Kind::kFlush:
        sync = true;
        break;
    }
  }

  // Inserts count before removals in the same batch: a message can be inserted and (on another
  // shard, after its 250) completed before the next commit only if the insert committed first,
  // so within one batch inserts are always earlier ops. Apply them first.
  for (Op& op : ops) {
    if (op.kind == Op::Kind::kInsert) {
      remaining_[op.meta.id] = static_cast<uint32_t>(op.recipients.size());
    }
  }
  std::vector<MessageId> completed;
  for (const auto& [id, count] : done_counts) {
    auto it = remaining_.find(id);
    if (it == remaining_.end()) {
      LOG(ERROR) << "spool: completion for untracked message " << FormatQueueId(id);
      continue;
    }
    if (it->second <= count) {
      batch.DeleteMessage(id);
      completed.push_back(id);
    }
  }

  absl::Status status = absl::OkStatus();
  absl::Duration elapsed;
  if (batch.count() > 0 || sync) {
    const absl::Time start = absl::Now();
    status = spool_->Write(&batch, sync);
    elapsed = absl::Now() - start;
    {
      std::lock_guard<std::mutex> lock(stats_mutex_);
      ++stats_.commits;
      if (sync) ++stats_.synced_commits;
      stats_.messages += messages;
      stats_.operations += ops.size();
      stats_.commit_time += elapsed;
      if (elapsed > stats_.max_commit_time) stats_.max_commit_time = elapsed;
      if (!status.ok()) ++stats_.failed_commits;
    }
    if (observer_) observer_(elapsed, messages, status.ok());
  }

  if (status.ok()) {
    for (const auto& [id, count] : done_counts) {
      auto it = remaining_.find(id);
      if (it == remaining_.end()) continue;
      if (it->second <= count) {
        remaining_.erase(it);
      } else {
        it->second -= count;
      }
    }
    int64_t delta = 0;
    for (Op& op : ops) {
      if (op.kind == Op::Kind::kInsert) ++delta;
    }
    delta -= static_cast<int64_t>(completed.size());
    tracked_.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
  } else {
    LOG(ERROR) << "spool commit of " << ops.size() << " changes failed: " << status;
    // Nothing of this batch is in the spool: forget the inserted messages again.
    for (Op& op : ops) {
      if (op.kind == Op::Kind::kInsert) remaining_.erase(op.meta.id);
    }
  }

  for (Op& op : ops) {
    if (op.done) std::move(op.done)(status);
  }
}

}  // namespace volley::queue
