#include "engine/shaping/shaper.h"

#include <algorithm>
#include <limits>

namespace volley::shaping {
namespace {

// Keeps `throttle` in step with `rate`: made when a rate appears, dropped when it goes, and
// otherwise given the new rate with what was spent.
void Follow(const std::optional<config::Rate>& rate, absl::string_view limit,
            std::optional<Throttle>& throttle) {
  if (!rate.has_value()) {
    throttle.reset();
  } else if (!throttle.has_value()) {
    throttle.emplace(*rate, limit);
  } else if (!(throttle->rate() == *rate)) {
    throttle->set_rate(*rate);
  }
}

}  // namespace

void Shaper::set_limits(const std::vector<config::ShapingConfig>* by_source) {
  limits_ = by_source;
  // Sources a reload took away give back the shared slots their connections hold; the
  // connections themselves end when idle (HasSource).
  for (size_t i = by_source->size(); i < paths_.size(); ++i) {
    for (const std::vector<std::string>& names : paths_[i].held) {
      for (const std::string& name : names) {
        if (shared_ != nullptr) shared_->ReleaseConnection(name, this);
      }
    }
  }
  paths_.resize(by_source->size());
  has_shared_ = false;
  connection_limit_ = 0;
  for (size_t i = 0; i < paths_.size(); ++i) {
    connection_limit_ += std::min((*by_source)[i].connection_limit,
                                  std::numeric_limits<int>::max() - connection_limit_);
    has_shared_ = has_shared_ || !(*by_source)[i].shared_limits.empty();
    Follow((*by_source)[i].max_message_rate, kMessageRate, paths_[i].message_rate);
    Follow((*by_source)[i].max_connection_rate, kConnectionRate, paths_[i].connection_rate);
  }
}

Shaper::~Shaper() {
  if (shared_ == nullptr) return;
  for (Path& path : paths_) {
    for (const std::vector<std::string>& names : path.held) {
      for (const std::string& name : names) shared_->ReleaseConnection(name, this);
    }
  }
}

Admission Shaper::PathAllows(int source, absl::Time now) const {
  const Path& path = paths_[source];
  // Until the suspension ends, which the site notices by itself.
  if (path.paused) return Admission::NotBefore(absl::InfiniteFuture(), kSuspension);
  if (path.open >= (*limits_)[source].connection_limit) {
    // Until a connection closes, which the site notices by itself.
    return Admission::NotBefore(absl::InfiniteFuture(), kConnectionLimit);
  }
  if (path.connection_rate.has_value()) {
    if (Admission rate = path.connection_rate->Peek(now); !rate.go()) return rate;
  }
  // A connection that could send nothing for a while would only hold a slot.
  if (path.cap != nullptr) return path.cap->Peek(now);
  return Admission::Go();
}

Admission Shaper::TakeShared(int source, absl::Time now, bool connection,
                             std::vector<std::string>* taken) {
  if (shared_ == nullptr) return Admission::Go();
  using Kind = config::SharedLimitSpec::Kind;
  std::vector<const config::SharedLimitSpec*> done;
  for (const config::SharedLimitSpec& spec : (*limits_)[source].shared_limits) {
    Admission admission = Admission::Go();
    if (connection && spec.kind == Kind::kConnections) {
      admission = shared_->AcquireConnection(spec, this, waker_);
    } else if ((connection && spec.kind == Kind::kConnectionRate) ||
               (!connection && spec.kind == Kind::kMessageRate)) {
      admission = shared_->TakeEvent(spec, now, waker_);
    } else {
      continue;
    }
    if (!admission.go()) {
      GiveBackShared(done);
      return admission;
    }
    done.push_back(&spec);
  }
  for (const config::SharedLimitSpec* spec : done) {
    if (spec->kind == Kind::kConnections) taken->push_back(spec->name);
  }
  return Admission::Go();
}

void Shaper::GiveBackShared(const std::vector<const config::SharedLimitSpec*>& taken) {
  for (const config::SharedLimitSpec* spec : taken) {
    if (spec->kind == config::SharedLimitSpec::Kind::kConnections) {
      shared_->ReleaseConnection(spec->name, this);
    } else {
      shared_->ReturnEvent(spec->name);
    }
  }
}

Admission Shaper::AdmitConnection(absl::Time now, int* source) {
  std::optional<Admission> earliest;
  const size_t n = paths_.size();
  for (size_t k = 0; k < n; ++k) {
    const int i = static_cast<int>((next_source_ + k) % n);
    Admission admission = PathAllows(i, now);
    std::vector<std::string> taken;
    if (admission.go()) admission = TakeShared(i, now, /*connection=*/true, &taken);
    if (admission.go()) {
      Path& path = paths_[i];
      if (path.connection_rate.has_value()) path.connection_rate->TryTake(now);
      ++path.open;
      path.held.push_back(std::move(taken));
      *source = i;
      next_source_ = static_cast<size_t>(i) + 1;
      return admission;
    }
    if (!earliest.has_value() || admission.not_before() < earliest->not_before()) {
      earliest = admission;
    }
  }
  return earliest.value_or(Admission::NotBefore(absl::InfiniteFuture(), kConnectionLimit));
}

void Shaper::ConnectionClosed(int source) {
  // A source that a new config took away has no path left to count.
  if (source >= static_cast<int>(paths_.size())) return;
  Path& path = paths_[source];
  if (path.open > 0) --path.open;
  if (path.retiring > 0) --path.retiring;
  if (path.held.empty()) return;
  if (shared_ != nullptr) {
    for (const std::string& name : path.held.back()) shared_->ReleaseConnection(name, this);
  }
  path.held.pop_back();
}

bool Shaper::RetireIfOverLimit(int source) {
  if (!HasSource(source)) return true;
  Path& path = paths_[source];
  if (path.open - path.retiring <= (*limits_)[source].connection_limit) return false;
  ++path.retiring;
  return true;
}

Admission Shaper::AdmitTransaction(int source, int transactions) const {
  if (!HasSource(source)) return Admission::NotBefore(absl::InfiniteFuture(), kConnectionLimit);
  if (paths_[source].paused) return Admission::NotBefore(absl::InfiniteFuture(), kSuspension);
  if (transactions < (*limits_)[source].max_deliveries_per_connection) return Admission::Go();
  // This connection is done; a new one (if the site still has work) starts afresh.
  return Admission::NotBefore(absl::InfiniteFuture(), kDeliveriesPerConnection);
}

Admission Shaper::AdmitMessage(int source, absl::Time now) {
  if (!HasSource(source)) return Admission::NotBefore(absl::InfiniteFuture(), kConnectionLimit);
  Path& path = paths_[source];
  std::optional<Throttle>& rate = path.message_rate;
  if (!has_shared_ && path.cap == nullptr) {
    return rate.has_value() ? rate->TryTake(now) : Admission::Go();
  }
  if (rate.has_value()) {
    if (const Admission peek = rate->Peek(now); !peek.go()) return peek;
  }
  // The cap is counted first: it is shared with other shards, so only taking it is sure.
  if (path.cap != nullptr) {
    if (const Admission cap = path.cap->Take(now); !cap.go()) return cap;
  }
  if (const Admission shared = TakeShared(source, now, /*connection=*/false, nullptr);
      !shared.go()) {
    if (path.cap != nullptr) path.cap->Return(now);
    return shared;
  }
  if (rate.has_value()) rate->TryTake(now);
  return Admission::Go();
}

uint64_t Shaper::PathMessagesAvailable(const Path& path, absl::Time now) const {
  constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  uint64_t available =
      path.message_rate.has_value() ? path.message_rate->Available(now) : kUnlimited;
  if (path.cap != nullptr) {
    available =
        std::min(available, static_cast<uint64_t>(std::max<int64_t>(0, path.cap->Available(now))));
  }
  return available;
}

Admission Shaper::PathNextMessage(const Path& path, absl::Time now) const {
  if (path.message_rate.has_value()) {
    if (const Admission rate = path.message_rate->Peek(now); !rate.go()) return rate;
  }
  return path.cap != nullptr ? path.cap->Peek(now) : Admission::Go();
}

uint64_t Shaper::MessagesAvailable(absl::Time now) const {
  constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  uint64_t total = 0;
  for (const Path& path : paths_) {
    const uint64_t available = PathMessagesAvailable(path, now);
    if (available == kUnlimited) return kUnlimited;
    total += std::min(available, kUnlimited - total);
  }
  return total;
}

Admission Shaper::NextMessage(absl::Time now) const {
  std::optional<Admission> earliest;
  for (const Path& path : paths_) {
    const Admission admission = PathNextMessage(path, now);
    if (admission.go()) return admission;
    if (!earliest.has_value() || admission.not_before() < earliest->not_before()) {
      earliest = admission;
    }
  }
  return earliest.value_or(Admission::Go());
}

bool Shaper::Contended(int source) const {
  if (shared_ == nullptr || source >= static_cast<int>(paths_.size())) return false;
  for (const std::vector<std::string>& names : paths_[source].held) {
    for (const std::string& name : names) {
      if (shared_->contended(name)) return true;
    }
  }
  return false;
}

}  // namespace volley::shaping
