#include "queue/due_loader.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "engine/base/logging.h"

namespace volley::queue {
namespace {

// After deliveries made room, the loader reads again after at most this long (real time):
// every delivery makes room, and one read per delivery would cost more than it brings.
constexpr absl::Duration kRoomPacing = absl::Milliseconds(10);
// Without room made, how often the writer wakes to look at the loader's clock.
constexpr absl::Duration kIdlePoll = absl::Milliseconds(100);

}  // namespace

void DueLoader::Start(const LoaderOptions& options, LoadFn load) {
  options_ = options;
  load_ = std::move(load);
  resident_after_tick_ = resident_.size();
}

void DueLoader::AddResident(MessageId id, const std::vector<RecipientRecord>& recipients) {
  for (const RecipientRecord& r : recipients) resident_.insert(Key{id, r.index});
  PublishResidentCount();
}

void DueLoader::RemoveResident(MessageId id, uint32_t index) {
  resident_.erase(Key{id, index});
  PublishResidentCount();
}

void DueLoader::LetGo(MessageId id, uint32_t index, absl::Time due) {
  resident_.erase(Key{id, index});
  PublishResidentCount();
  // The cursor may be past where the index has it now: start the next read there.
  cursor_ = std::min(cursor_, ScheduleKey::For(id, index, due));
}

absl::Duration DueLoader::PollInterval() const { return room_made_ ? kRoomPacing : kIdlePoll; }

void DueLoader::Tick(bool requested) {
  if (!started()) return;
  if (resident_.size() < resident_after_tick_) room_made_ = true;
  const absl::Time real_now = absl::Now();
  const bool paced_room =
      room_made_ && resident_.size() < options_.budget && real_now - last_load_ >= kRoomPacing;
  if (requested || paced_room || clock_.Now() >= next_load_) {
    last_load_ = real_now;
    room_made_ = false;
    LoadDue();
  }
  resident_after_tick_ = resident_.size();
}

void DueLoader::LoadDue() {
  const absl::Time now = clock_.Now();
  next_load_ = now + options_.interval;
  if (!started() || resident_.size() >= options_.budget) {
    CountPass(0);
    return;
  }
  const size_t limit = options_.budget - resident_.size();
  ScheduleKey next;
  absl::StatusOr<std::vector<DueRecipient>> due = spool_->ReadDue(
      cursor_, now + options_.horizon, limit,
      [this](MessageId id, uint32_t index) {
        return resident_.contains(Key{id, index});
      },
      &next);
  if (!due.ok()) {
    LOG(ERROR) << "cannot read due recipients from the spool: " << due.status();
    CountPass(0);
    return;
  }
  cursor_ = next;
  const size_t loaded = due->size();
  if (loaded > 0) {
    for (const DueRecipient& d : *due) resident_.insert(Key{d.key.id, d.key.index});
    PublishResidentCount();
    // More may be due than the budget allowed: look again soon rather than in a full interval.
    if (loaded == limit) next_load_ = now + options_.interval / 10;
    load_(*std::move(due));
  }
  CountPass(loaded);
}

void DueLoader::CountPass(uint64_t loaded) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.loaded += loaded;
  ++stats_.passes;
}

DueLoaderStats DueLoader::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

}  // namespace volley::queue
