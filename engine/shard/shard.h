// A shard: one thread running one libuv loop, and a mailbox through which other threads hand it
// work. Everything a shard owns (destinations, connections, timers, its DNS cache) is touched
// only on its loop thread, so the hot path takes no locks; other threads reach it only through
// Post().
#ifndef VOLLEY_ENGINE_SHARD_SHARD_H_
#define VOLLEY_ENGINE_SHARD_SHARD_H_

#include <uv.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace volley {

using Task = absl::AnyInvocable<void() &&>;

// A multi-producer, single-consumer queue of tasks woken by uv_async_send. Producers append
// under a mutex; the consumer swaps the whole vector out and runs it, so a burst of posts costs
// one wake-up and one lock per batch. uv_async_send coalesces wake-ups, so the consumer always
// drains to empty. (A mutex rather than a lock-free list: it is uncontended in the common case
// and ThreadSanitizer understands it; libuv's own atomics are not instrumented.)
class Mailbox {
 public:
  // Initialises the async handle on `loop`; must be called on the loop's thread.
  absl::Status Init(uv_loop_t* loop);

  // Thread-safe. Returns false (dropping the task) once the mailbox is closed.
  bool Post(Task task);

  // Runs queued tasks until the queue is empty. Called from the async callback.
  void Drain();

  // Stops accepting posts, runs what is queued, and closes the async handle. Loop thread only.
  void Close();

  size_t pending() const;

 private:
  static void OnAsync(uv_async_t* handle);

  uv_async_t async_;
  mutable std::mutex mutex_;
  std::vector<Task> queue_;
  bool closed_ = false;
  bool initialised_ = false;
};

class Shard {
 public:
  // `index` is this shard's number among its siblings (0..n-1).
  explicit Shard(int index);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Starts the thread and its loop. `init` runs first on the new thread (set up handles that
  // belong to the shard); an error from it is returned here and the thread ends.
  absl::Status Start(absl::AnyInvocable<absl::Status()> init = nullptr);

  // Thread-safe: runs `task` on the shard's loop thread, after the tasks posted before it by the
  // same thread. Returns false if the shard has stopped (the task is dropped).
  bool Post(Task task);

  // Closes the mailbox once the loop's other handles are closed, so the loop ends and the thread
  // exits. Call on the loop thread when everything the shard owns has been shut down.
  void CloseMailbox();

  // Waits for the thread to end (after CloseMailbox). Not on the loop thread.
  void Join();

  bool InLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }
  uv_loop_t* loop() { return &loop_; }
  int index() const { return index_; }

 private:
  const int index_;
  uv_loop_t loop_;
  Mailbox mailbox_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_SHARD_SHARD_H_
