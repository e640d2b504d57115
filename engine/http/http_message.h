// The request and response types of Volley's HTTP server, the handler signature that routes
// use, and how a response goes on the wire.
#ifndef VOLLEY_ENGINE_HTTP_HTTP_MESSAGE_H_
#define VOLLEY_ENGINE_HTTP_HTTP_MESSAGE_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"

namespace volley::http {

// A parsed request, as a handler sees it.
struct HttpRequest {
  std::string method;  // upper-case as sent
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  // Header names lower-cased. A header sent more than once has its values joined by ", ".
  absl::flat_hash_map<std::string, std::string> headers;
  std::string body;
  // The client's address ("127.0.0.1"), for trace fields and logs.
  std::string peer_address;

  // The header's value or "".
  absl::string_view Header(absl::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers, sent in order after Content-Type and Content-Length.
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
};

// Handlers answer through the Respond callback, now or later on the loop's thread; calling it
// after the connection closed is safe and does nothing.
using Respond = absl::AnyInvocable<void(HttpResponse) &&>;
using Handler = absl::AnyInvocable<void(const HttpRequest&, Respond)>;
// Runs `work` where it may block (a spool read or write, off the loop), then hands its answer to
// `respond` on the server's loop thread: what the admin API's handlers that touch the spool are
// given.
using RunBlocking =
    std::function<void(absl::AnyInvocable<HttpResponse() &&> work, Respond respond)>;

// The reason phrase of a status code: the IANA registry's for every registered code, and the
// name of its class ("Client Error", ...) for other codes of 100 to 599. Codes outside that
// range are not HTTP status codes; they get "".
absl::string_view ReasonPhrase(int status);

struct SerializeOptions {
  // Adds "Connection: close": the server closes the connection after this response.
  bool close = false;
  // Adds "Connection: keep-alive", which an HTTP/1.0 client needs to see to keep the
  // connection open (HTTP/1.1 keeps it by default).
  bool keep_alive_header = false;
  // The answer to a HEAD request: the headers describe the body, which is not sent.
  bool omit_body = false;
};

// The response as bytes for the wire: the status line (always HTTP/1.1), Content-Type,
// Content-Length, the response's own headers, the Connection header the options ask for, and
// the body. A status outside 100 to 599 is a handler's bug: it goes out as 500.
std::string SerializeResponse(const HttpResponse& response, const SerializeOptions& options);

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_HTTP_MESSAGE_H_
