// Remembers the thread an object was made on, so that its methods can assert that they run
// there: DCHECK(thread_.InLoopThread()). Objects owned by a shard are made on the shard's loop
// thread and must only ever be touched on it; this is how they say so in debug builds.
#ifndef VOLLEY_ENGINE_BASE_THREAD_CHECKER_H_
#define VOLLEY_ENGINE_BASE_THREAD_CHECKER_H_

#include <thread>

namespace volley {

class ThreadChecker {
 public:
  ThreadChecker() : id_(std::this_thread::get_id()) {}
  // True on the thread the checker was made on (the owner's loop thread).
  bool InLoopThread() const { return std::this_thread::get_id() == id_; }

 private:
  std::thread::id id_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_THREAD_CHECKER_H_
