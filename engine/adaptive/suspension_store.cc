#include "engine/adaptive/suspension_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "engine/base/logging.h"

namespace volley::adaptive {
namespace {

constexpr absl::string_view kKind = "suspension";

}  // namespace

SuspensionStore::SuspensionStore(queue::Spool* spool, Clock* clock, events::EventSink* log)
    : spool_(spool), clock_(clock), log_(log), current_(std::make_shared<SuspensionSet>()) {}

SuspensionStore::~SuspensionStore() { expiry_.Stop(); }

void SuspensionStore::StartExpiring(absl::Duration interval) {
  expiry_.Start(interval, [this] {
    if (absl::Status s = ExpireDue(); !s.ok()) {
      LOG_EVERY_N_SEC(ERROR, 60) << "suspensions: " << s.message();
    }
  });
}

absl::Status SuspensionStore::Load() {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> stored =
      spool_->ReadState(kKind);
  if (!stored.ok()) return stored.status();
  std::lock_guard<std::mutex> lock(mutex_);
  all_.clear();
  for (const auto& [id, json] : *stored) {
    absl::StatusOr<Suspension> s = SuspensionFromJson(json);
    if (!s.ok()) {
      // One unreadable record must not stop the engine: it is dropped, and said so.
      LOG(ERROR) << s.status().message() << "; removed";
      (void)spool_->DeleteState(kKind, id, /*sync=*/false);
      continue;
    }
    all_.push_back(*std::move(s));
  }
  std::sort(all_.begin(), all_.end(), [](const Suspension& a, const Suspension& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  PublishLocked();
  return absl::OkStatus();
}

void SuspensionStore::set_publish(Publish publish) {
  std::lock_guard<std::mutex> lock(mutex_);
  publish_ = std::move(publish);
}

absl::StatusOr<Suspension> SuspensionStore::Add(Suspension s) {
  // Writers take turns; readers (the API's list, scrapes, on a loop) never wait for the spool.
  std::lock_guard<std::mutex> writing(write_mutex_);
  const absl::Time now = clock_->Now();
  if (s.origin != "admin") {
    for (size_t i = 0; i < all_.size(); ++i) {
      const Suspension& active = all_[i];
      if (active.origin != s.origin || !active.SameTarget(s) || active.expires <= now) continue;
      if (s.expires <= active.expires) return active;
      Suspension extended = active;
      extended.expires = s.expires;
      if (absl::Status w = spool_->PutState(kKind, extended.id, SuspensionJson(extended, now),
                                            /*sync=*/true);
          !w.ok()) {
        return w;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      all_[i] = extended;
      LogLocked(extended, "extended", "");
      PublishLocked();
      return extended;
    }
  }
  s.id = NewSuspensionId();
  s.created = now;
  if (absl::Status w = spool_->PutState(kKind, s.id, SuspensionJson(s, now), /*sync=*/true);
      !w.ok()) {
    return w;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  all_.push_back(s);
  LogLocked(s, "begin", "");
  PublishLocked();
  return s;
}

absl::Status SuspensionStore::Lift(absl::string_view id) {
  std::lock_guard<std::mutex> writing(write_mutex_);
  const absl::Time now = clock_->Now();
  for (size_t i = 0; i < all_.size(); ++i) {
    if (all_[i].id != id || all_[i].expires <= now) continue;
    if (absl::Status s = End({i}, "lifted"); !s.ok()) return s;
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no active suspension has id \"", id, "\""));
}

absl::Status SuspensionStore::ExpireDue() {
  std::lock_guard<std::mutex> writing(write_mutex_);
  const absl::Time now = clock_->Now();
  std::vector<size_t> due;
  for (size_t i = 0; i < all_.size(); ++i) {
    if (all_[i].expires <= now) due.push_back(i);
  }
  if (due.empty()) return absl::OkStatus();
  return End(due, "expired");
}

absl::Status SuspensionStore::End(const std::vector<size_t>& indexes, absl::string_view ended_by) {
  // Not synced when they expire: a deletion lost in a crash leaves a suspension that Load ends
  // again. A lift is synced: the operator was told it is gone.
  for (size_t i : indexes) {
    if (absl::Status s = spool_->DeleteState(kKind, all_[i].id, ended_by == "lifted"); !s.ok()) {
      return s;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto i = indexes.rbegin(); i != indexes.rend(); ++i) {
    LogLocked(all_[*i], "end", ended_by);
    all_.erase(all_.begin() + static_cast<std::ptrdiff_t>(*i));
  }
  PublishLocked();
  return absl::OkStatus();
}

void SuspensionStore::LogLocked(const Suspension& s, absl::string_view state,
                                absl::string_view ended_by) {
  if (log_ == nullptr) return;
  events::SuspensionEvent e;
  e.state = state;
  e.ended_by = ended_by;
  e.id = s.id;
  e.domain = s.domain;
  e.site = s.site;
  e.tenant = s.tenant;
  e.campaign = s.campaign;
  e.source = s.source;
  e.reason = s.reason;
  e.origin = s.origin;
  e.expires = s.expires;
  e.timestamp = clock_->Now();
  log_->OnSuspension(e);
}

void SuspensionStore::PublishLocked() {
  current_ = std::make_shared<const SuspensionSet>(all_);
  if (publish_) publish_(current_);
}

std::shared_ptr<const SuspensionSet> SuspensionStore::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

std::vector<Suspension> SuspensionStore::List() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const absl::Time now = clock_->Now();
  std::vector<Suspension> out;
  for (const Suspension& s : all_) {
    if (s.expires > now) out.push_back(s);
  }
  return out;
}

int SuspensionStore::SuspendedDomains() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const absl::Time now = clock_->Now();
  absl::flat_hash_set<std::string> domains;
  for (const Suspension& s : all_) {
    if (s.expires > now && !s.domain.empty()) domains.insert(s.domain);
  }
  return static_cast<int>(domains.size());
}

}  // namespace volley::adaptive
