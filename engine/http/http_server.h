// A small HTTP/1.1 server on a libuv loop for the admin API and /metrics, on engine/net's
// TcpListener and TcpStream: requests parsed by http-parser (HttpRequestParser), routed by
// exact method and path (Router), Content-Length bodies, keep-alive and pipelining with one
// request at a time per connection. Not a general web server: no chunked request bodies (411),
// no TLS (bind it to loopback or put a proxy in front).
#ifndef VOLLEY_ENGINE_HTTP_HTTP_SERVER_H_
#define VOLLEY_ENGINE_HTTP_HTTP_SERVER_H_

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/http/http_message.h"
#include "engine/http/router.h"
#include "engine/net/tcp_listener.h"
#include "engine/net/tcp_stream.h"

namespace volley::http {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  // The request line and headers; more is answered with 431.
  size_t max_header_bytes = 16 * 1024;
  // A request's body; more is answered with 413.
  size_t max_body_bytes = 32ull << 20;
  // Open connections; one more is answered with 503 and closed.
  int max_connections = 256;
  // After its last response a connection reads and drops input for up to this long, until the
  // client closes, so that unread input does not make the kernel reset the connection before
  // the client read the response.
  absl::Duration linger = absl::Seconds(2);
};

// Serves the routes of its Router. A connection answers its requests in order, one at a time:
// the next pipelined request is parsed only once the handler of the previous one responded.
// A request that is not keep-alive (HTTP/1.1 "Connection: close", HTTP/1.0 without
// "Connection: keep-alive"), and every request the server refuses (400, 411, 413, 414, 431,
// 505), gets "Connection: close" and the connection ends after the response.
//
// All calls and callbacks (handlers included) on the loop's thread, except that Create and
// Route may be called on another thread before the loop runs.
class HttpServer {
 public:
  // Listens on options.address:options.port (port 0: the kernel picks one, see port()).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(uv_loop_t* loop,
                                                            const HttpServerOptions& options);
  // Closes the listener and every connection at once; Respond callbacks still held by handlers
  // then do nothing. Not from inside a handler (use Close).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The routes; Route(method, path, handler) is router().Add(method, path, handler).
  Router& router() { return router_; }
  // Routes an exact method and path. Unknown paths get 404, known paths with another method
  // 405 with an Allow header.
  void Route(absl::string_view method, absl::string_view path, Handler handler);

  uint16_t port() const { return port_; }
  // Connections open now (not counting those lingering after their last response).
  size_t connection_count() const { return connections_.size(); }

  // Stops listening and closes every connection at once (a response not written yet is lost);
  // `done` runs when the listener and every connection are closed: at once, or, when Close is
  // called from a handler, once that handler's connection is done with its callbacks. `done`
  // may destroy the server. Connections lingering after their last response are the streams'
  // own and end within `linger`. Call once.
  void Close(absl::AnyInvocable<void()> done);

 private:
  class Connection;

  explicit HttpServer(const HttpServerOptions& options) : options_(options) {}
  void OnAccept(std::unique_ptr<net::TcpStream> stream);
  // Destroys a finished connection. Nothing may touch it afterwards.
  void Release(Connection* connection);
  void MaybeFinishClose();

  const HttpServerOptions options_;
  Router router_;
  uint16_t port_ = 0;
  bool closing_ = false;
  absl::AnyInvocable<void()> close_done_;
  // Owned: each is deleted by Release, Close or the destructor. (A map to unique_ptr would need
  // Connection complete here.)
  absl::flat_hash_set<Connection*> connections_;
  std::unique_ptr<net::TcpListener> listener_;
};

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_HTTP_SERVER_H_
