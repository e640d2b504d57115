// For the HTTP injection API's integration tests: requests sent with curl (the client the
// issue names, and the one platforms test with), and received messages read back with Python's
// email package (tests/testdata/read_mime.py), an independent MIME parser.
#ifndef VOLLEY_TESTS_SUPPORT_HTTP_INJECT_H_
#define VOLLEY_TESTS_SUPPORT_HTTP_INJECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace volley::test_support {

struct CurlAnswer {
  int status = 0;    // the HTTP status, 0 when curl got none
  std::string body;  // the response body
};

// `method` `path` on 127.0.0.1:`port` with `body` (from a file, so any size goes) and curl's
// `extra` arguments ("-H 'Authorization: Bearer x'"). An error when curl itself failed.
absl::StatusOr<CurlAnswer> Curl(uint16_t port, const std::string& method, const std::string& path,
                                const std::string& body, const std::string& extra = "",
                                const std::string& content_type = "application/json");

// What read_mime.py makes of each message: one JSON object per message, in order.
absl::StatusOr<nlohmann::json> ReadMime(const std::vector<std::string>& messages);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_HTTP_INJECT_H_
