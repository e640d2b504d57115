// The delivery log file: every event as a JSON line (log_record.h), appended by a background
// thread, so event loops never wait on the disk. Records from one thread keep their order; the
// file is reopened on request (for logrotate's SIGUSR1).
#ifndef VOLLEY_ENGINE_EVENTS_DELIVERY_LOG_H_
#define VOLLEY_ENGINE_EVENTS_DELIVERY_LOG_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "engine/events/event.h"

namespace volley::events {

class DeliveryLog final : public EventSink {
 public:
  // Opens `path` for appending (creating its directory). An empty path gives a log that drops
  // every record (the log is off).
  static absl::StatusOr<std::unique_ptr<DeliveryLog>> Open(const std::string& path);
  ~DeliveryLog() override;  // writes what is queued, then closes

  // Thread-safe: formats the record on the calling thread and queues it.
  void OnEvent(const RecipientEvent& event) override;
  void OnSuspension(const SuspensionEvent& event) override;
  // Reopens the file at the next write (after logrotate moved it). Async-signal-safe.
  void Reopen() { reopen_.store(true, std::memory_order_relaxed); }
  // Blocks until everything written so far is in the file.
  void Flush();

  bool enabled() const { return fd_ >= 0 || !path_.empty(); }
  uint64_t records_written() const { return written_.load(std::memory_order_relaxed); }

 private:
  DeliveryLog() = default;
  // Queues one formatted record for the writer thread.
  void Append(const std::string& line);
  void Run();
  absl::Status OpenFile();

  std::string path_;
  int fd_ = -1;
  std::atomic<bool> reopen_{false};
  std::atomic<uint64_t> written_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::string pending_;
  uint64_t queued_records_ = 0;
  uint64_t flushed_records_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace volley::events

#endif  // VOLLEY_ENGINE_EVENTS_DELIVERY_LOG_H_
