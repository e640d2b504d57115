// Which shard owns a destination, and how to hand it work.
#ifndef VOLLEY_ENGINE_RUNTIME_SHARD_ROUTER_H_
#define VOLLEY_ENGINE_RUNTIME_SHARD_ROUTER_H_

#include <cstddef>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "engine/base/logging.h"
#include "engine/runtime/shard.h"

namespace volley {

// A destination (a recipient domain, a site) is owned by one shard for the life of the process:
// the hash of its name modulo the shard count. Work for it is posted to that shard as a task that
// receives the shard's own `Local` object (e.g. its delivery queues) on the shard's thread, so
// no shard ever holds a pointer into another shard's objects.
//
// OwnerOf and Post are thread-safe. Attach and Detach run on the shard's own loop thread, and
// the pointer they set is read only there, by the posted tasks.
template <typename Local>
class ShardRouter {
 public:
  // The shards outlive the router.
  explicit ShardRouter(std::vector<Shard*> shards)
      : shards_(std::move(shards)), locals_(shards_.size(), nullptr) {}
  ShardRouter(const ShardRouter&) = delete;
  ShardRouter& operator=(const ShardRouter&) = delete;

  size_t size() const { return shards_.size(); }

  size_t OwnerOf(absl::string_view name) const {
    return absl::Hash<absl::string_view>()(name) % shards_.size();
  }

  // On shard `index`'s loop thread: the object its tasks are given, from now on.
  void Attach(size_t index, Local* local) {
    DCHECK(shards_[index]->InLoopThread());
    locals_[index] = local;
  }
  // On shard `index`'s loop thread: tasks that still arrive are dropped.
  void Detach(size_t index) {
    DCHECK(shards_[index]->InLoopThread());
    locals_[index] = nullptr;
  }

  // Runs `fn` with shard `index`'s object on that shard's loop thread, after the tasks posted to
  // it before by the same thread. Returns false, dropping `fn`, once the shard has stopped.
  bool Post(size_t index, absl::AnyInvocable<void(Local&) &&> fn) const {
    return shards_[index]->Post([this, index, fn = std::move(fn)]() mutable {
      Local* local = locals_[index];
      if (local != nullptr) std::move(fn)(*local);
    });
  }

 private:
  const std::vector<Shard*> shards_;
  std::vector<Local*> locals_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_RUNTIME_SHARD_ROUTER_H_
