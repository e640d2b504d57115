#include "queue/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace volley::queue {

absl::StatusOr<uint64_t> FreeBytes(const std::string& path) {
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) != 0) {
    return absl::UnavailableError(absl::StrCat("statvfs ", path, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_frsize);
}

DiskSpaceMonitor::DiskSpaceMonitor(std::string path, uint64_t min_free, absl::Duration interval)
    : path_(std::move(path)), min_free_(min_free), interval_(interval) {
  Check();
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_),
                           [this] { return stopping_; })) {
      lock.unlock();
      Check();
      lock.lock();
    }
  });
}

DiskSpaceMonitor::~DiskSpaceMonitor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void DiskSpaceMonitor::Check() {
  absl::StatusOr<uint64_t> free = FreeBytes(path_);
  if (!free.ok()) {
    LOG(WARNING) << free.status();
    return;
  }
  free_.store(*free, std::memory_order_relaxed);
  const bool low = min_free_ > 0 && *free < min_free_;
  if (low != low_.exchange(low, std::memory_order_relaxed)) {
    if (low) {
      LOG(WARNING) << "spool " << path_ << ": " << *free << " bytes free, below spool_min_free ("
                   << min_free_ << "); refusing new mail until there is room";
    } else {
      LOG(INFO) << "spool " << path_ << ": " << *free << " bytes free again; taking new mail";
    }
  }
}

}  // namespace volley::queue
