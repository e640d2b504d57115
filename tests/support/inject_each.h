// Injection for integration tests: one message per recipient, the way a bulk platform hands
// mail to an MTA.
#ifndef VOLLEY_TESTS_SUPPORT_INJECT_EACH_H_
#define VOLLEY_TESTS_SUPPORT_INJECT_EACH_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace volley::test_support {

// Sends one message per recipient to the SMTP listener on 127.0.0.1:`smtp_port` over
// `connections` pipelined connections, from s@volley.test, the i-th with `content(i)` (default:
// a Subject line and a one-line body), and waits for every reply. Returns how many were
// accepted (250), or the injector's error.
absl::StatusOr<size_t> InjectEach(uint16_t smtp_port, const std::vector<std::string>& recipients,
                                  int connections = 4,
                                  const std::function<std::string(size_t)>& content = nullptr);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_INJECT_EACH_H_
