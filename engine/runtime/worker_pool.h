// A few threads for work that may block (spool reads), so that event loops never do. Tasks
// post their results back to a shard.
#ifndef VOLLEY_ENGINE_RUNTIME_WORKER_POOL_H_
#define VOLLEY_ENGINE_RUNTIME_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/runtime/mailbox.h"

namespace volley {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // runs what is queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Thread-safe. Tasks run in FIFO order over the pool's threads.
  void Run(Task task);

 private:
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_RUNTIME_WORKER_POOL_H_
