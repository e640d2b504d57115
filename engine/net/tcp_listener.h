// A listening TCP socket on a libuv loop.
#ifndef VOLLEY_ENGINE_NET_TCP_LISTENER_H_
#define VOLLEY_ENGINE_NET_TCP_LISTENER_H_

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "engine/net/tcp_stream.h"

namespace volley::net {

struct ListenOptions {
  std::string address = "127.0.0.1";  // numeric IPv4 or IPv6 (IPv6 sockets are v6-only)
  uint16_t port = 0;                  // 0: the kernel picks a free port (see port())
  // SO_REUSEPORT, so that every shard's loop can accept on the same port and the kernel spreads
  // the connections over them.
  bool reuse_port = false;
  int backlog = 1024;
};

// All calls and callbacks on the loop's thread. The handle is freed in its close callback, so
// the listener may be destroyed at any time (also from its accept callback).
class TcpListener {
 public:
  // Each accepted connection; reading starts when the callee calls StartReading.
  using AcceptCallback = absl::AnyInvocable<void(std::unique_ptr<TcpStream> stream)>;

  // Errors name the address ("cannot listen on 127.0.0.1:25: Address already in use") or the
  // libuv call that failed.
  static absl::StatusOr<std::unique_ptr<TcpListener>> Listen(uv_loop_t* loop,
                                                             const ListenOptions& options,
                                                             AcceptCallback on_accept);
  ~TcpListener();  // Close()s
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  uint16_t port() const { return port_; }
  // Stops accepting. Idempotent.
  void Close();

 private:
  struct Box;
  TcpListener(Box* box, uint16_t port) : box_(box), port_(port) {}
  Box* box_;  // null once closed; freed in the handle's close callback
  uint16_t port_;
};

// A non-blocking TCP socket bound to ip:port and listening, with SO_REUSEADDR (and SO_REUSEPORT
// when asked). Returns the fd; for TcpListener, and for tests that need a port nobody answers.
absl::StatusOr<int> BindListeningSocket(const ListenOptions& options);

}  // namespace volley::net

#endif  // VOLLEY_ENGINE_NET_TCP_LISTENER_H_
