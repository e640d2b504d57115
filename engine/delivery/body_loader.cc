#include "engine/delivery/body_loader.h"

#include <utility>

#include "engine/base/logging.h"

namespace volley::delivery {

void BodyLoader::Load(queue::MessageId id, Callback callback) {
  DCHECK(thread_.InLoopThread());
  auto [it, first] = waiting_.try_emplace(id);
  it->second.push_back(std::move(callback));
  if (!first) return;  // one read serves everybody waiting for this message
  ++in_flight_;
  Liveness::Weak alive = liveness_.weak();
  queue::Spool* spool = spool_;
  pool_->Run([this, alive, spool, post = post_, id]() {
    absl::StatusOr<std::string> body = spool->ReadBody(id);
    // `this` is used only back on the loop, and only while the loader lives.
    post([this, alive, id, body = std::move(body)]() mutable {
      if (!alive.alive()) return;
      OnLoaded(id, std::move(body));
    });
  });
}

void BodyLoader::OnLoaded(queue::MessageId id, absl::StatusOr<std::string> body) {
  --in_flight_;
  auto it = waiting_.find(id);
  if (it == waiting_.end()) {
    if (after_load_) after_load_();
    return;
  }
  std::vector<Callback> callbacks = std::move(it->second);
  waiting_.erase(it);
  Body shared =
      body.ok() ? Body(std::make_shared<const std::string>(*std::move(body))) : Body(body.status());
  if (!body.ok()) {
    LOG(ERROR) << "cannot load message " << queue::FormatQueueId(id) << ": " << body.status();
  }
  for (Callback& callback : callbacks) callback(shared);
  if (after_load_) after_load_();
}

}  // namespace volley::delivery
