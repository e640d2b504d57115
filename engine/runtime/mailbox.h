// A multi-producer, single-consumer queue of tasks for one event loop, woken by uv_async_send.
#ifndef VOLLEY_ENGINE_RUNTIME_MAILBOX_H_
#define VOLLEY_ENGINE_RUNTIME_MAILBOX_H_

#include <uv.h>

#include <mutex>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"

namespace volley {

using Task = absl::AnyInvocable<void() &&>;

// Producers append under a mutex; the consumer swaps the whole vector out and runs it, so a
// burst of posts costs one wake-up and one lock per batch. uv_async_send coalesces wake-ups, so
// the consumer always drains to empty. (A mutex rather than a lock-free list: it is uncontended
// in the common case and ThreadSanitizer understands it; libuv's own atomics are not
// instrumented.)
//
// Post is thread-safe; Init, Drain and Close run on the loop's thread.
class Mailbox {
 public:
  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Initialises the async handle on `loop`.
  absl::Status Init(uv_loop_t* loop);
  // Returns false (dropping the task) once the mailbox is closed.
  bool Post(Task task);
  // Runs queued tasks until the queue is empty. Called from the async callback.
  void Drain();
  // Stops accepting posts, runs what is queued, and closes the async handle.
  void Close();
  size_t pending() const;

 private:
  static void OnAsync(uv_async_t* handle);

  // A member handle: the mailbox lives as long as its shard, whose loop ends only after the
  // handle's close has completed.
  uv_async_t async_;
  mutable std::mutex mutex_;
  std::vector<Task> queue_;
  bool closed_ = false;
  bool initialised_ = false;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_RUNTIME_MAILBOX_H_
