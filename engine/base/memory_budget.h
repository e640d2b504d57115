// A budget of bytes shared by many holders across threads: the message content injection
// sessions hold in memory ([inject] max_memory). A holder charges before it grows, so that the
// sum stays within the limit instead of the process growing until the kernel kills it.
#ifndef VOLLEY_ENGINE_BASE_MEMORY_BUDGET_H_
#define VOLLEY_ENGINE_BASE_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <utility>

namespace volley {

// Thread-safe (one atomic).
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes `n` bytes if they fit, all or nothing.
  bool TryCharge(uint64_t n) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ || used > limit_ - n) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void Release(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  // Whether `n` bytes would fit now (a hint: others may charge before the caller does).
  bool Fits(uint64_t n) const {
    const uint64_t used = used_.load(std::memory_order_relaxed);
    return n <= limit_ && used <= limit_ - n;
  }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

// What one holder has charged to a budget (none without a budget: then every growth succeeds).
// Released when destroyed or Release()d; movable, so a charge can follow the bytes it covers.
// Not thread-safe itself: one holder at a time.
class MemoryCharge {
 public:
  MemoryCharge() = default;
  explicit MemoryCharge(MemoryBudget* budget) : budget_(budget) {}
  MemoryCharge(MemoryCharge&& other) noexcept
      : budget_(other.budget_), bytes_(std::exchange(other.bytes_, 0)) {}
  MemoryCharge& operator=(MemoryCharge&& other) noexcept {
    if (this != &other) {
      Release();
      budget_ = other.budget_;
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  ~MemoryCharge() { Release(); }

  // Grows the charge to `total` bytes (never shrinks it). False, and unchanged, when the
  // budget cannot take the difference.
  bool GrowTo(uint64_t total) {
    if (total <= bytes_) return true;
    if (budget_ != nullptr && !budget_->TryCharge(total - bytes_)) return false;
    bytes_ = total;
    return true;
  }
  void Release() {
    if (budget_ != nullptr && bytes_ > 0) budget_->Release(bytes_);
    bytes_ = 0;
  }

  uint64_t bytes() const { return bytes_; }
  MemoryBudget* budget() const { return budget_; }

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_MEMORY_BUDGET_H_
