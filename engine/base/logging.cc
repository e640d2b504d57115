#include "engine/base/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace volley {
namespace {

std::atomic<int> min_severity{static_cast<int>(LogSeverity::kInfo)};

const char* SeverityLetter(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo:
      return "I";
    case LogSeverity::kWarning:
      return "W";
    case LogSeverity::kError:
      return "E";
    case LogSeverity::kFatal:
      return "F";
  }
  return "?";
}

const char* Basename(const char* path) {
  const char* base = path;
  for (const char* p = path; *p != '\0'; ++p) {
    if (*p == '/') base = p + 1;
  }
  return base;
}

}  // namespace

void SetMinLogSeverity(LogSeverity severity) {
  min_severity.store(static_cast<int>(severity), std::memory_order_relaxed);
}

LogSeverity MinLogSeverity() {
  return static_cast<LogSeverity>(min_severity.load(std::memory_order_relaxed));
}

namespace logging_internal {

LogMessage::LogMessage(const char* file, int line, LogSeverity severity) : severity_(severity) {
  stream_ << SeverityLetter(severity)
          << absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ ", absl::Now(), absl::UTCTimeZone())
          << Basename(file) << ":" << line << "] ";
}

LogMessage::~LogMessage() {
  std::string line = stream_.str();
  line.push_back('\n');
  // One write per line keeps concurrent lines whole; a short write to stderr is not worth
  // retrying here.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (severity_ == LogSeverity::kFatal) std::abort();
}

}  // namespace logging_internal
namespace logging_internal {

bool LogRateLimiter::Allow() { return Allow(absl::GetCurrentTimeNanos()); }

bool LogRateLimiter::Allow(int64_t now_ns) {
  int64_t last = last_ns_.load(std::memory_order_relaxed);
  if (last != INT64_MIN && now_ns - last < interval_ns_) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!last_ns_.compare_exchange_strong(last, now_ns, std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;  // another thread just logged
  }
  reported_.store(suppressed_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  return true;
}

}  // namespace logging_internal

}  // namespace volley
