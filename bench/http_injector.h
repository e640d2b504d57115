// The load side of volley-bench's http mode: POST /api/inject/v1 requests over HTTP/1.1
// keep-alive connections on loopback, each connection a thread with a blocking socket that sends
// its requests one after another, as a platform's sender does. Every answer is read in full and
// checked (200, and a body whose fail_count is 0) and timed.
//
// Blocking sockets and threads rather than a uv loop: one request in flight per connection needs
// no state machine, and the few connections this drives cost nothing next to volleyd's work.
#ifndef VOLLEY_BENCH_HTTP_INJECTOR_H_
#define VOLLEY_BENCH_HTTP_INJECTOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace volley::bench {

struct HttpInjectorOptions {
  std::string host = "127.0.0.1";  // numeric IPv4
  uint16_t port = 0;
  std::string path = "/api/inject/v1";
  std::string token;  // sent as "Authorization: Bearer <token>"; "" for none
  int connections = 16;
  // One request's send and its answer each, and the whole call (no request is started after
  // it), so that a stuck volleyd ends the run instead of hanging it.
  absl::Duration request_timeout = absl::Seconds(120);
  absl::Duration deadline = absl::Minutes(30);
};

struct HttpInjectRequest {
  std::string body;   // JSON
  size_t recipients;  // in `body`: what success_count should be
};

struct HttpInjectResult {
  absl::Time started, finished;  // the first request sent, the last answer read
  // Per answered request, milliseconds from its first byte sent to its answer's last byte read,
  // ascending.
  std::vector<double> latencies_ms;
  uint64_t requests_ok = 0;      // 200, fail_count 0, success_count = its recipients
  uint64_t requests_failed = 0;  // any other answer, or none (a connection that failed)
  uint64_t requests_unsent = 0;  // every connection gave up, or the deadline came first
  uint64_t accepted = 0;         // recipients counted in success_count
  uint64_t failed = 0;           // recipients of the request not counted in success_count
  std::string first_error;       // what went wrong first, "" when nothing did
};

// Sends requests 0 to count - 1, each once, over `options.connections` keep-alive connections;
// `make_request` is called on the connection threads, concurrently, and must be thread-safe. A
// request whose connection fails is not sent again (it may have been stored): it counts as
// failed, and the next one reconnects. A connection gives up after 3 failures in a row.
// An error only for options that cannot work (a host that is not numeric IPv4, no connections).
absl::StatusOr<HttpInjectResult> InjectHttp(
    const HttpInjectorOptions& options,
    const std::function<HttpInjectRequest(size_t index)>& make_request, size_t count);

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_HTTP_INJECTOR_H_
