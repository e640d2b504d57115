// A shard: one thread running one libuv loop, and a mailbox through which other threads hand it
// work. Everything a shard owns (destinations, connections, timers, its DNS cache) is touched
// only on its loop thread, so the hot path takes no locks; other threads reach it only through
// Post().
#ifndef VOLLEY_ENGINE_RUNTIME_SHARD_H_
#define VOLLEY_ENGINE_RUNTIME_SHARD_H_

#include <uv.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/mailbox.h"

namespace volley {

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

  // Runs `fn` on the shard's loop thread and waits for its status: for set-up and tear-down
  // steps of the thread that owns the shard (never on the loop thread itself). Unavailable when
  // the shard has stopped.
  absl::Status Call(absl::AnyInvocable<absl::Status()> fn);

  // Closes the mailbox once the loop's other handles are closed, so the loop ends and the thread
  // exits. Call on the loop thread when everything the shard owns has been shut down.
  void CloseMailbox();

  // Waits for the thread to end (after CloseMailbox). Not on the loop thread.
  void Join();
  // After Join: whether the loop closed clean, or which handles were still open then (a leak
  // of whoever owned them; also logged).
  const absl::Status& loop_close_status() const { return loop_close_status_; }

  bool InLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }
  uv_loop_t* loop() { return &loop_; }
  int index() const { return index_; }

 private:
  const int index_;
  uv_loop_t loop_;
  Mailbox mailbox_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_;
  absl::Status loop_close_status_;  // written by the loop thread before it ends
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_RUNTIME_SHARD_H_
