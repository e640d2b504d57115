#include "engine/net/tcp_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/net_address.h"

namespace volley::net {

struct TcpListener::Box {
  uv_tcp_t tcp;
  AcceptCallback on_accept;
  bool closed = false;
  std::string where;  // "address:port", for messages

  static void OnConnection(uv_stream_t* server, int status) {
    Box* box = static_cast<Box*>(server->data);
    if (box->closed) return;
    if (status < 0) {
      // Out of file descriptors, typically: the client sees its connection wait or fail.
      LOG_EVERY_N_SEC(WARNING, 5) << "listener " << box->where << ": " << uv_strerror(status);
      return;
    }
    absl::StatusOr<std::unique_ptr<TcpStream>> stream = TcpStream::Accept(server);
    if (!stream.ok()) {
      LOG_EVERY_N_SEC(WARNING, 5) << "listener " << box->where << ": " << stream.status();
      return;
    }
    box->on_accept(*std::move(stream));
  }
};

absl::StatusOr<int> BindListeningSocket(const ListenOptions& options) {
  absl::StatusOr<sockaddr_storage> address = MakeSocketAddress(options.address, options.port);
  if (!address.ok()) return address.status();
  const int family = address->ss_family;
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  auto fail = [fd](absl::Status status) {
    ::close(fd);
    return status;
  };
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail(
        absl::InternalError(absl::StrCat("setsockopt(SO_REUSEADDR): ", std::strerror(errno))));
  }
  if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return fail(
        absl::InternalError(absl::StrCat("setsockopt(SO_REUSEPORT): ", std::strerror(errno))));
  }
  if (family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    return fail(
        absl::InternalError(absl::StrCat("setsockopt(IPV6_V6ONLY): ", std::strerror(errno))));
  }
  const socklen_t length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*address), length) != 0) {
    const bool v6 = family == AF_INET6;
    return fail(absl::UnavailableError(absl::StrCat("cannot listen on ", v6 ? "[" : "",
                                                    options.address, v6 ? "]" : "", ":",
                                                    options.port, ": ", std::strerror(errno))));
  }
  if (::listen(fd, options.backlog) != 0) {
    return fail(absl::UnavailableError(absl::StrCat("listen: ", std::strerror(errno))));
  }
  return fd;
}

absl::StatusOr<std::unique_ptr<TcpListener>> TcpListener::Listen(uv_loop_t* loop,
                                                                 const ListenOptions& options,
                                                                 AcceptCallback on_accept) {
  absl::StatusOr<int> fd = BindListeningSocket(options);
  if (!fd.ok()) return fd.status();
  auto* box = new Box;
  int rc = uv_tcp_init(loop, &box->tcp);
  if (rc != 0) {
    delete box;
    ::close(*fd);
    return absl::UnavailableError(absl::StrCat("uv_tcp_init: ", uv_strerror(rc)));
  }
  box->tcp.data = box;
  box->on_accept = std::move(on_accept);
  auto listener = std::unique_ptr<TcpListener>(new TcpListener(box, 0));
  rc = uv_tcp_open(&box->tcp, *fd);
  if (rc != 0) {
    ::close(*fd);  // not attached to the handle, so closing the handle would not close it
    return absl::UnavailableError(absl::StrCat("uv_tcp_open: ", uv_strerror(rc)));
  }
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&box->tcp), options.backlog, &Box::OnConnection);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("uv_listen: ", uv_strerror(rc)));
  sockaddr_storage bound;
  int length = sizeof(bound);
  rc = uv_tcp_getsockname(&box->tcp, reinterpret_cast<sockaddr*>(&bound), &length);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("uv_tcp_getsockname: ", uv_strerror(rc)));
  listener->port_ = PortOf(reinterpret_cast<sockaddr*>(&bound));
  box->where = absl::StrCat(options.address, ":", listener->port_);
  return listener;
}

TcpListener::~TcpListener() { Close(); }

void TcpListener::Close() {
  if (box_ == nullptr) return;
  box_->closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&box_->tcp),
           [](uv_handle_t* handle) { delete static_cast<Box*>(handle->data); });
  box_ = nullptr;
}

}  // namespace volley::net
