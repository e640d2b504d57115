#include "engine/events/delivery_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/events/log_record.h"

namespace volley::events {

absl::StatusOr<std::unique_ptr<DeliveryLog>> DeliveryLog::Open(const std::string& path) {
  auto log = std::unique_ptr<DeliveryLog>(new DeliveryLog());
  log->path_ = path;
  if (path.empty()) return log;
  std::filesystem::path fs_path(path);
  if (fs_path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(fs_path.parent_path(), ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create the directory of delivery log ", path, ": ", ec.message()));
    }
  }
  absl::Status status = log->OpenFile();
  if (!status.ok()) return status;
  log->thread_ = std::thread([raw = log.get()] { raw->Run(); });
  return log;
}

absl::Status DeliveryLog::OpenFile() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open delivery log ", path_, ": ", std::strerror(errno)));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return absl::OkStatus();
}

DeliveryLog::~DeliveryLog() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

void DeliveryLog::OnEvent(const RecipientEvent& event) {
  if (path_.empty()) return;
  std::string line;
  line.reserve(768);
  AppendLogRecord(event, &line);
  Append(line);
}

void DeliveryLog::OnSuspension(const SuspensionEvent& event) {
  if (path_.empty()) return;
  std::string line;
  AppendSuspensionRecord(event, &line);
  Append(line);
}

void DeliveryLog::Append(const std::string& line) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake = pending_.empty();
    pending_.append(line);
    ++queued_records_;
  }
  if (wake) wake_.notify_one();
}

void DeliveryLog::Flush() {
  if (path_.empty()) return;
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t target = queued_records_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return flushed_records_ >= target || !thread_.joinable(); });
}

void DeliveryLog::Run() {
  std::string chunk;
  while (true) {
    uint64_t records;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return !pending_.empty() || stopping_; });
      if (pending_.empty() && stopping_) return;
      chunk.swap(pending_);
      records = queued_records_;
    }
    if (reopen_.exchange(false, std::memory_order_relaxed)) {
      absl::Status status = OpenFile();
      if (!status.ok()) LOG(ERROR) << status;
    }
    size_t offset = 0;
    while (offset < chunk.size()) {
      ssize_t n = ::write(fd_, chunk.data() + offset, chunk.size() - offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        // The log must not stop delivery: report and drop this chunk.
        LOG(ERROR) << "delivery log " << path_ << ": write failed: " << std::strerror(errno);
        break;
      }
      offset += static_cast<size_t>(n);
    }
    chunk.clear();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      written_.store(records, std::memory_order_relaxed);
      flushed_records_ = records;
    }
    flushed_.notify_all();
  }
}

}  // namespace volley::events
