#include "bench/http_injector.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace volley::bench {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 64ull << 20;
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kMaxConsecutiveFailures = 3;

absl::Status ErrnoStatus(absl::string_view what) {
  const int e = errno;
  const std::string text = absl::StrCat(what, ": ", std::strerror(e));
  if (e == EAGAIN || e == EWOULDBLOCK) return absl::DeadlineExceededError(text);
  return absl::UnavailableError(text);
}

struct Answer {
  int status = 0;
  std::string body;
  bool close = false;  // the server said "Connection: close"
};

// One keep-alive connection with a blocking socket whose every send and receive is bounded by
// the socket timeouts.
class Connection {
 public:
  Connection(const sockaddr_in& address, absl::Duration timeout)
      : address_(address), timeout_(timeout) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool open() const { return fd_ >= 0; }

  absl::Status Connect() {
    Close();
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return ErrnoStatus("socket");
    const int one = 1;
    // The request goes out in one writev; without this its tail could wait for an ACK.
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const timeval tv = absl::ToTimeval(timeout_);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&address_), sizeof(address_)) != 0) {
      absl::Status s = ErrnoStatus("connect");
      Close();
      return s;
    }
    buffer_.clear();
    return absl::OkStatus();
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  // Sends one request (`head` ends with the empty line) and reads its whole answer.
  absl::StatusOr<Answer> Exchange(absl::string_view head, absl::string_view body) {
    if (absl::Status s = Send(head, body); !s.ok()) return s;
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (buffer_.size() > kMaxHeaderBytes) return absl::DataLossError("answer header too long");
      if (absl::Status s = ReadMore(); !s.ok()) return s;
    }
    Answer answer;
    size_t length = 0;
    const std::vector<absl::string_view> lines =
        absl::StrSplit(absl::string_view(buffer_).substr(0, header_end), "\r\n");
    if (lines.empty() || !absl::StartsWith(lines[0], "HTTP/1.") || lines[0].size() < 12 ||
        !absl::SimpleAtoi(lines[0].substr(9, 3), &answer.status)) {
      return absl::DataLossError(absl::StrCat("not an HTTP/1.x status line: ", lines[0]));
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos) continue;
      const absl::string_view name = lines[i].substr(0, colon);
      const absl::string_view value = absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
      if (absl::EqualsIgnoreCase(name, "Content-Length")) {
        if (!absl::SimpleAtoi(value, &length) || length > kMaxBodyBytes) {
          return absl::DataLossError(absl::StrCat("bad Content-Length: ", value));
        }
      } else if (absl::EqualsIgnoreCase(name, "Connection")) {
        answer.close = absl::StrContains(absl::AsciiStrToLower(value), "close");
      }
    }
    const size_t body_start = header_end + 4;
    while (buffer_.size() < body_start + length) {
      if (absl::Status s = ReadMore(); !s.ok()) return s;
    }
    answer.body = buffer_.substr(body_start, length);
    buffer_.erase(0, body_start + length);
    return answer;
  }

 private:
  absl::Status Send(absl::string_view head, absl::string_view body) {
    iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                      {const_cast<char*>(body.data()), body.size()}};
    size_t first = 0;
    while (first < 2) {
      msghdr message = {};
      message.msg_iov = parts + first;
      message.msg_iovlen = 2 - first;
      ssize_t n = sendmsg(fd_, &message, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("send");
      }
      // Drop what went out from the front of the parts.
      while (first < 2 && static_cast<size_t>(n) >= parts[first].iov_len) {
        n -= static_cast<ssize_t>(parts[first].iov_len);
        ++first;
      }
      if (first < 2) {
        parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + n;
        parts[first].iov_len -= static_cast<size_t>(n);
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadMore() {
    const size_t old = buffer_.size();
    buffer_.resize(old + kReadChunk);
    ssize_t n;
    do {
      n = recv(fd_, buffer_.data() + old, kReadChunk, 0);
    } while (n < 0 && errno == EINTR);
    buffer_.resize(old + std::max<ssize_t>(n, 0));
    if (n < 0) return ErrnoStatus("recv");
    if (n == 0) return absl::UnavailableError("the server closed the connection");
    return absl::OkStatus();
  }

  const sockaddr_in address_;
  const absl::Duration timeout_;
  int fd_ = -1;
  std::string buffer_;  // received, not yet consumed
};

// Whether `answer` stored every recipient of a request of `recipients`; else why not.
absl::Status CheckAnswer(const Answer& answer, size_t recipients, uint64_t* accepted) {
  *accepted = 0;
  const nlohmann::json body = nlohmann::json::parse(answer.body, nullptr, false);
  if (body.is_object()) {
    const auto success = body.find("success_count");
    if (success != body.end() && success->is_number_unsigned()) {
      *accepted = std::min<uint64_t>(success->get<uint64_t>(), recipients);
    }
  }
  if (answer.status != 200) {
    return absl::InternalError(
        absl::StrCat("HTTP ", answer.status, ": ", answer.body.substr(0, 300)));
  }
  const auto fail = body.is_object() ? body.find("fail_count") : body.end();
  if (fail == body.end() || !fail->is_number_unsigned() || fail->get<uint64_t>() != 0 ||
      *accepted != recipients) {
    return absl::InternalError(absl::StrCat("200 with failures: ", answer.body.substr(0, 300)));
  }
  return absl::OkStatus();
}

// What the connections share: the next request to send, and the totals they add to when done.
struct Shared {
  std::atomic<size_t> next{0};
  std::mutex mutex;
  HttpInjectResult result;  // guarded by mutex

  void Merge(HttpInjectResult& mine, absl::Time last_answer) {
    std::lock_guard<std::mutex> lock(mutex);
    result.latencies_ms.insert(result.latencies_ms.end(), mine.latencies_ms.begin(),
                               mine.latencies_ms.end());
    result.requests_ok += mine.requests_ok;
    result.requests_failed += mine.requests_failed;
    result.accepted += mine.accepted;
    result.failed += mine.failed;
    result.finished = std::max(result.finished, last_answer);
    if (result.first_error.empty()) result.first_error = mine.first_error;
  }
};

void RunConnection(const HttpInjectorOptions& options, const sockaddr_in& address,
                   const std::function<HttpInjectRequest(size_t)>& make_request, size_t count,
                   absl::Time deadline, Shared* shared) {
  Connection connection(address, options.request_timeout);
  HttpInjectResult mine;
  absl::Time last_answer = absl::InfinitePast();
  const std::string auth =
      options.token.empty() ? "" : absl::StrCat("Authorization: Bearer ", options.token, "\r\n");
  auto fail = [&](const HttpInjectRequest& request, uint64_t accepted, const absl::Status& why) {
    ++mine.requests_failed;
    mine.accepted += accepted;
    mine.failed += request.recipients - accepted;
    if (mine.first_error.empty()) mine.first_error = std::string(why.message());
  };
  int failures_in_a_row = 0;
  while (failures_in_a_row < kMaxConsecutiveFailures && absl::Now() < deadline) {
    const size_t index = shared->next.fetch_add(1, std::memory_order_relaxed);
    if (index >= count) break;
    const HttpInjectRequest request = make_request(index);
    if (!connection.open()) {
      if (absl::Status s = connection.Connect(); !s.ok()) {
        fail(request, 0, s);
        ++failures_in_a_row;
        continue;
      }
    }
    const std::string head =
        absl::StrCat("POST ", options.path, " HTTP/1.1\r\nHost: ", options.host, ":", options.port,
                     "\r\nContent-Type: application/json\r\nContent-Length: ", request.body.size(),
                     "\r\n", auth, "\r\n");
    const absl::Time sent = absl::Now();
    absl::StatusOr<Answer> answer = connection.Exchange(head, request.body);
    const absl::Time answered = absl::Now();
    if (!answer.ok()) {
      // Not sent again: volleyd may have stored it.
      connection.Close();
      fail(request, 0, answer.status());
      ++failures_in_a_row;
      continue;
    }
    failures_in_a_row = 0;
    last_answer = answered;
    mine.latencies_ms.push_back(absl::ToDoubleMilliseconds(answered - sent));
    if (answer->close) connection.Close();
    uint64_t accepted = 0;
    if (absl::Status s = CheckAnswer(*answer, request.recipients, &accepted); !s.ok()) {
      fail(request, accepted, s);
      continue;
    }
    ++mine.requests_ok;
    mine.accepted += accepted;
  }
  shared->Merge(mine, last_answer);
}

}  // namespace

absl::StatusOr<HttpInjectResult> InjectHttp(
    const HttpInjectorOptions& options,
    const std::function<HttpInjectRequest(size_t index)>& make_request, size_t count) {
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not a numeric IPv4 address: ", options.host));
  }
  if (options.connections < 1) return absl::InvalidArgumentError("connections < 1");
  Shared shared;
  shared.result.started = absl::Now();
  shared.result.finished = shared.result.started;
  const absl::Time deadline = shared.result.started + options.deadline;
  std::vector<std::thread> threads;
  threads.reserve(options.connections);
  for (int c = 0; c < options.connections; ++c) {
    threads.emplace_back(RunConnection, std::cref(options), std::cref(address),
                         std::cref(make_request), count, deadline, &shared);
  }
  for (std::thread& t : threads) t.join();
  HttpInjectResult result = std::move(shared.result);
  result.requests_unsent = count - std::min(count, shared.next.load());
  std::sort(result.latencies_ms.begin(), result.latencies_ms.end());
  return result;
}

}  // namespace volley::bench
