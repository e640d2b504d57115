// A thread that runs one task every interval until it is stopped: the suspension store's
// expiry and the warm-up ledger's flush, which must not wait on an event loop.
#ifndef VOLLEY_ENGINE_BASE_PERIODIC_THREAD_H_
#define VOLLEY_ENGINE_BASE_PERIODIC_THREAD_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace volley {

// Start and Stop from the owner's thread; `task` runs on the thread of its own.
class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Runs `task` every `interval` (the first time one interval from now). Once only.
  void Start(absl::Duration interval, std::function<void()> task);
  // Wakes the thread and joins it; a task running now finishes first. Idempotent.
  void Stop();

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_PERIODIC_THREAD_H_
