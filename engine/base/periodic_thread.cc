#include "engine/base/periodic_thread.h"

#include <utility>

namespace volley {

void PeriodicThread::Start(absl::Duration interval, std::function<void()> task) {
  thread_ = std::thread([this, interval, task = std::move(task)] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (
        !wake_.wait_for(lock, absl::ToChronoNanoseconds(interval), [this] { return stopping_; })) {
      lock.unlock();
      task();
      lock.lock();
    }
  });
}

void PeriodicThread::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace volley
