// A blocking HTTP/1.1 client for Volley's own outgoing calls (webhooks): one request per
// connection ("Connection: close"), a deadline on connect, send and receive, the answer's
// status and body (Content-Length, or up to the close). For threads that may block, never an
// event loop. Plain HTTP only: no TLS.
#ifndef VOLLEY_ENGINE_HTTP_HTTP_CLIENT_H_
#define VOLLEY_ENGINE_HTTP_HTTP_CLIENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::http {

// "http://host[:port]/path", split; host may be a name, an IPv4 address or [IPv6].
struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string path = "/";  // with the query, if any
};
// InvalidArgument naming what is wrong (https is refused: no TLS here).
absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url);

struct HttpClientResponse {
  int status = 0;
  std::string body;
};

// Sends `method` `url` with `headers` and `body` (Content-Length always sent), waits at most
// `timeout` for each step. Unavailable when the server cannot be reached or the connection
// fails; DataLoss for an answer that is not HTTP/1.x.
absl::StatusOr<HttpClientResponse> HttpRequest(
    absl::string_view method, const HttpUrl& url,
    const std::vector<std::pair<std::string, std::string>>& headers, absl::string_view body,
    absl::Duration timeout);

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_HTTP_CLIENT_H_
