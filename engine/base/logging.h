// Minimal logging and assertion macros for Volley.
//
// Abseil 20220623 (Debian's) has no absl/log, so we keep a small equivalent here:
//   LOG(INFO) << "text";     (INFO, WARNING, ERROR, FATAL)
//   CHECK(cond) << "why";    always on; aborts with the message
//   DCHECK(cond);            on in debug builds only
//   CHECK_OK(status);
// Lines go to stderr, one write(2) per line so that lines from several threads do not mix.
#ifndef VOLLEY_ENGINE_BASE_LOGGING_H_
#define VOLLEY_ENGINE_BASE_LOGGING_H_

#include <atomic>
#include <cstdint>
#include <sstream>

#include "absl/status/status.h"

namespace volley {

enum class LogSeverity { kInfo = 0, kWarning = 1, kError = 2, kFatal = 3 };

// Messages below this severity are dropped. Defaults to kInfo; tests and tools may raise it.
void SetMinLogSeverity(LogSeverity severity);
LogSeverity MinLogSeverity();

namespace logging_internal {

inline constexpr LogSeverity INFO = LogSeverity::kInfo;
inline constexpr LogSeverity WARNING = LogSeverity::kWarning;
inline constexpr LogSeverity ERROR = LogSeverity::kError;
inline constexpr LogSeverity FATAL = LogSeverity::kFatal;

class LogMessage {
 public:
  LogMessage(const char* file, int line, LogSeverity severity);
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  // Writes the line; aborts the process for kFatal.
  ~LogMessage();

  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

// Lets one message through per interval; thread-safe. For LOG_EVERY_N_SEC.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(double seconds) : interval_ns_(static_cast<int64_t>(seconds * 1e9)) {}
  // True when the last message let through is at least the interval ago.
  bool Allow();
  // The same at `now_ns` (absl::GetCurrentTimeNanos's clock), so that tests can step time
  // instead of sleeping through the interval.
  bool Allow(int64_t now_ns);
  // How many were held back before the one just let through.
  int64_t suppressed() const { return reported_.load(std::memory_order_relaxed); }

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> last_ns_{INT64_MIN};
  std::atomic<int64_t> suppressed_{0};
  std::atomic<int64_t> reported_{0};
};

// Swallows a stream expression so that disabled logs still type-check.
class LogVoidify {
 public:
  void operator&(std::ostream&) {}
};

}  // namespace logging_internal
}  // namespace volley

#define VOLLEY_LOG_ENABLED(severity) \
  (::volley::logging_internal::severity >= ::volley::MinLogSeverity())

#define LOG(severity)                                                                    \
  !VOLLEY_LOG_ENABLED(severity)                                                          \
      ? (void)0                                                                          \
      : ::volley::logging_internal::LogVoidify() &                                       \
            ::volley::logging_internal::LogMessage(__FILE__, __LINE__,                   \
                                                   ::volley::logging_internal::severity) \
                .stream()

// At most one message per `seconds` from this statement (for errors that repeat per message
// or per commit while a fault lasts); says how many were held back. A `for` underneath, so
// it nests in an unbraced `if` without a dangling `else`.
#define LOG_EVERY_N_SEC(severity, seconds)                                                         \
  for (::volley::logging_internal::LogRateLimiter* volley_log_limiter =                            \
           [] {                                                                                    \
             static ::volley::logging_internal::LogRateLimiter limiter(seconds);                   \
             return &limiter;                                                                      \
           }();                                                                                    \
       volley_log_limiter != nullptr && volley_log_limiter->Allow(); volley_log_limiter = nullptr) \
  LOG(severity) << (volley_log_limiter->suppressed() > 0                                           \
                        ? "(" + std::to_string(volley_log_limiter->suppressed()) +                 \
                              " similar messages suppressed) "                                     \
                        : std::string())

#define CHECK(condition)                                                                  \
  (condition) ? (void)0                                                                   \
              : ::volley::logging_internal::LogVoidify() &                                \
                    ::volley::logging_internal::LogMessage(__FILE__, __LINE__,            \
                                                           ::volley::LogSeverity::kFatal) \
                            .stream()                                                     \
                        << "Check failed: " #condition " "

#define CHECK_OK(expr)                                                       \
  do {                                                                       \
    const ::absl::Status volley_check_ok_status = (expr);                    \
    CHECK(volley_check_ok_status.ok()) << volley_check_ok_status.ToString(); \
  } while (0)

#ifdef NDEBUG
#define DCHECK(condition) \
  while (false) CHECK(condition)
#else
#define DCHECK(condition) CHECK(condition)
#endif

#endif  // VOLLEY_ENGINE_BASE_LOGGING_H_
