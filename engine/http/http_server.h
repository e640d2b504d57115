// A small HTTP/1.1 server on a libuv loop for the admin API and /metrics: Content-Length
// bodies, keep-alive, one request at a time per connection. Not a general web server: no
// chunked request bodies (411), no TLS (bind it to loopback or put a proxy in front).
#ifndef VOLLEY_ENGINE_HTTP_HTTP_SERVER_H_
#define VOLLEY_ENGINE_HTTP_HTTP_SERVER_H_

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::http {

struct HttpRequest {
  std::string method;  // upper-case as sent
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  // Header names lower-cased.
  absl::flat_hash_map<std::string, std::string> headers;
  std::string body;

  // The header's value or "".
  absl::string_view Header(absl::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
};

// Handlers answer through the Respond callback, now or later on the loop's thread; calling it
// after the connection closed is safe and does nothing.
using Respond = absl::AnyInvocable<void(HttpResponse) &&>;
using Handler = absl::AnyInvocable<void(const HttpRequest&, Respond)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 32ull << 20;
  int max_connections = 256;
};

// All calls and callbacks on the loop's thread.
class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(uv_loop_t* loop,
                                                            const HttpServerOptions& options);
  ~HttpServer();

  // Routes an exact method and path. Unknown paths get 404, known paths with another method
  // 405 with an Allow header.
  void Route(absl::string_view method, absl::string_view path, Handler handler);

  uint16_t port() const;

  // Stops listening and closes every connection; `done` runs when all handles are closed.
  void Close(absl::AnyInvocable<void()> done);

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_HTTP_SERVER_H_
