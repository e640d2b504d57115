#include "engine/base/net_address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace volley {

absl::StatusOr<sockaddr_storage> MakeSocketAddress(absl::string_view ip, uint16_t port) {
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof(storage));
  const std::string text(ip);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return storage;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return storage;
  }
  return absl::InvalidArgumentError(absl::StrCat("'", ip, "' is not an IP address"));
}

std::string IpOf(const sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, buf, sizeof(buf));
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

uint16_t PortOf(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  }
  if (address->sa_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  }
  return 0;
}

bool IsIpLiteral(absl::string_view text) { return MakeSocketAddress(text, 0).ok(); }

absl::StatusOr<int> BindListeningSocket(absl::string_view ip, uint16_t port, bool reuse_port,
                                        int backlog) {
  absl::StatusOr<sockaddr_storage> address = MakeSocketAddress(ip, port);
  if (!address.ok()) return address.status();
  const int family = address->ss_family;
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("setsockopt(SO_REUSEPORT): ", std::strerror(err)));
  }
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  const socklen_t length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*address), length) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", family == AF_INET6 ? "[" : "",
                                               ip, family == AF_INET6 ? "]" : "", ":", port, ": ",
                                               std::strerror(err)));
  }
  if (::listen(fd, backlog) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("listen: ", std::strerror(err)));
  }
  return fd;
}

}  // namespace volley
