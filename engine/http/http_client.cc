#include "engine/http/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace volley::http {
namespace {

// Closes the socket at the end of the scope.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until `fd` is ready for `events` or `deadline` passes.
bool WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(ms));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

absl::Status Connect(const HttpUrl& url, absl::Time deadline, Socket* socket) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(url.port);
  if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", url.host, ": ", gai_strerror(rc)));
  }
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Socket s;
    s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (s.fd < 0) continue;
    int rc = ::connect(s.fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS && WaitFor(s.fd, POLLOUT, deadline)) {
      int error = 0;
      socklen_t len = sizeof(error);
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &len);
      rc = error == 0 ? 0 : -1;
      errno = error != 0 ? error : ETIMEDOUT;
    } else if (rc != 0 && errno == EINPROGRESS) {
      errno = ETIMEDOUT;
    }
    if (rc == 0) {
      socket->fd = s.fd;
      s.fd = -1;
      ::freeaddrinfo(found);
      return absl::OkStatus();
    }
    last = std::strerror(errno);
  }
  ::freeaddrinfo(found);
  return absl::UnavailableError(absl::StrCat("connect ", url.host, ":", url.port, ": ", last));
}

}  // namespace

absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url) {
  if (absl::StartsWithIgnoreCase(url, "https://")) {
    return absl::InvalidArgumentError("https is not supported yet (plain http only)");
  }
  if (!absl::ConsumePrefix(&url, "http://")) {
    return absl::InvalidArgumentError("expected an http:// URL");
  }
  HttpUrl out;
  const size_t slash = url.find('/');
  absl::string_view authority = url.substr(0, slash);
  if (slash != absl::string_view::npos) out.path = std::string(url.substr(slash));
  absl::string_view port_text;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("unclosed [");
    out.host = std::string(authority.substr(0, close));
    absl::string_view rest = authority.substr(close + 1);
    if (absl::ConsumePrefix(&rest, ":")) port_text = rest;
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return absl::InvalidArgumentError("no host");
  if (!port_text.empty()) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port \"", port_text, "\""));
    }
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

absl::StatusOr<HttpClientResponse> HttpRequest(
    absl::string_view method, const HttpUrl& url,
    const std::vector<std::pair<std::string, std::string>>& headers, absl::string_view body,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  Socket socket;
  if (absl::Status connected = Connect(url, deadline, &socket); !connected.ok()) return connected;
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string request = absl::StrCat(
      method, " ", url.path, " HTTP/1.1\r\nHost: ", v6 ? "[" : "", url.host, v6 ? "]" : "", ":",
      url.port, "\r\nConnection: close\r\nContent-Length: ", body.size(), "\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  absl::StrAppend(&request, "\r\n");
  request.append(body.data(), body.size());
  size_t sent = 0;
  while (sent < request.size()) {
    if (!WaitFor(socket.fd, POLLOUT, deadline)) return absl::UnavailableError("send timed out");
    const ssize_t n = ::send(socket.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[16384];
  while (true) {
    if (!WaitFor(socket.fd, POLLIN, deadline)) return absl::UnavailableError("answer timed out");
    const ssize_t n = ::recv(socket.fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    if (n == 0) break;
    response.append(buf, static_cast<size_t>(n));
    // With a Content-Length, the answer may end before the server closes.
    const size_t end = response.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    const absl::string_view head = absl::string_view(response).substr(0, end);
    const size_t at = absl::AsciiStrToLower(head).find("\r\ncontent-length:");
    if (at == std::string::npos) continue;
    size_t length = 0;
    absl::string_view value = head.substr(at + 17);
    value = value.substr(0, value.find("\r\n"));
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &length) &&
        response.size() >= end + 4 + length) {
      response.resize(end + 4 + length);
      break;
    }
  }
  HttpClientResponse result;
  const size_t header_end = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.") || response.size() < 12 ||
      header_end == std::string::npos || !absl::SimpleAtoi(response.substr(9, 3), &result.status)) {
    return absl::DataLossError(absl::StrCat("not an HTTP answer: ", response.substr(0, 100)));
  }
  result.body = response.substr(header_end + 4);
  return result;
}

}  // namespace volley::http
