// Watches the free space of the file system holding the spool, off the event loops, so that
// injection can refuse new mail (452 4.3.1) before a full disk makes spool writes fail, and
// take it again by itself once delivery (or the operator) has made room.
#ifndef VOLLEY_QUEUE_DISK_SPACE_H_
#define VOLLEY_QUEUE_DISK_SPACE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace volley::queue {

// Free bytes available to the process on the file system holding `path`.
absl::StatusOr<uint64_t> FreeBytes(const std::string& path);

class DiskSpaceMonitor {
 public:
  // Checks `path` now and then every `interval`; low() is true while fewer than `min_free`
  // bytes are free. A `min_free` of 0 never reports low.
  DiskSpaceMonitor(std::string path, uint64_t min_free,
                   absl::Duration interval = absl::Milliseconds(500));
  ~DiskSpaceMonitor();
  DiskSpaceMonitor(const DiskSpaceMonitor&) = delete;
  DiskSpaceMonitor& operator=(const DiskSpaceMonitor&) = delete;

  // Thread-safe.
  bool low() const { return low_.load(std::memory_order_relaxed); }
  uint64_t free_bytes() const { return free_.load(std::memory_order_relaxed); }

 private:
  void Check();

  const std::string path_;
  const uint64_t min_free_;
  const absl::Duration interval_;
  std::atomic<bool> low_{false};
  std::atomic<uint64_t> free_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_DISK_SPACE_H_
