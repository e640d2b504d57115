// A token an object holds so that the callbacks it hands out (libuv callbacks, tasks posted
// to its own loop, completions from other threads posted back to it) can tell, when they run
// later on the object's thread, whether the object still exists.
#ifndef VOLLEY_ENGINE_BASE_LIVENESS_H_
#define VOLLEY_ENGINE_BASE_LIVENESS_H_

#include <memory>
#include <utility>

namespace volley {

// Not thread-safe: the owner, and every callback that checks a Weak, run on one thread. A Weak
// may be copied and moved to other threads, but checked only on the owner's thread.
class Liveness {
 public:
  class Weak {
   public:
    Weak() = default;
    // False once the owner's Liveness is destroyed (or for a default-constructed Weak).
    bool alive() const { return !token_.expired(); }

   private:
    friend class Liveness;
    explicit Weak(std::weak_ptr<const char> token) : token_(std::move(token)) {}
    std::weak_ptr<const char> token_;
  };

  Liveness() : token_(std::make_shared<const char>(0)) {}
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  Weak weak() const { return Weak(token_); }

  // Wraps a void callback so that it does nothing once the owner is gone.
  template <typename Fn>
  auto Guard(Fn fn) const {
    return [weak = weak(), fn = std::move(fn)](auto&&... args) mutable {
      if (weak.alive()) fn(std::forward<decltype(args)>(args)...);
    };
  }

 private:
  std::shared_ptr<const char> token_;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_LIVENESS_H_
