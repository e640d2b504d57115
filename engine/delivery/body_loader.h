// Reads message bodies from the spool for a shard's connections, off the loop.
#ifndef VOLLEY_ENGINE_DELIVERY_BODY_LOADER_H_
#define VOLLEY_ENGINE_DELIVERY_BODY_LOADER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "engine/base/liveness.h"
#include "engine/base/thread_checker.h"
#include "engine/runtime/mailbox.h"
#include "engine/runtime/worker_pool.h"
#include "queue/spool.h"

namespace volley::delivery {

// Reads run on the worker pool (RocksDB reads may block); concurrent requests for one message
// share one read, so a message's recipients waiting in several site queues cost one read. The
// result is posted back to the shard's loop. All calls and callbacks on the owning shard's loop.
class BodyLoader {
 public:
  using Body = absl::StatusOr<std::shared_ptr<const std::string>>;
  using Callback = absl::AnyInvocable<void(const Body& body)>;
  // Runs a task on the owning shard's loop; thread-safe; false once the shard has stopped.
  // Copied into every read, so it must be cheap to copy (it captures the shard's router).
  using PostFn = std::function<bool(Task task)>;

  BodyLoader(queue::Spool* spool, WorkerPool* pool, PostFn post_to_loop)
      : spool_(spool), pool_(pool), post_(std::move(post_to_loop)) {}

  void Load(queue::MessageId id, Callback callback);
  // Called after each read's callbacks have run (the shard checks whether its shutdown can
  // finish).
  void set_after_load(std::function<void()> after_load) { after_load_ = std::move(after_load); }
  // Reads started and not yet answered (shutdown waits for them).
  int in_flight() const { return in_flight_; }

 private:
  void OnLoaded(queue::MessageId id, absl::StatusOr<std::string> body);

  queue::Spool* const spool_;
  WorkerPool* const pool_;
  PostFn post_;
  std::function<void()> after_load_;
  absl::flat_hash_map<queue::MessageId, std::vector<Callback>> waiting_;
  int in_flight_ = 0;
  ThreadChecker thread_;
  Liveness liveness_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_BODY_LOADER_H_
