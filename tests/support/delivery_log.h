// Reading volleyd's delivery log (JSON lines) in integration tests.
#ifndef VOLLEY_TESTS_SUPPORT_DELIVERY_LOG_H_
#define VOLLEY_TESTS_SUPPORT_DELIVERY_LOG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace volley::test_support {

struct LogEntry {
  std::string type;
  std::string id;
  std::string recipient;
  std::string queue;
  std::string site;
  int code = 0;
  std::string enhanced;  // "5.1.1", or "" when the record has none
  std::string content;
  std::string command;  // "" when null
  std::string peer_name;
  std::string peer_address;
  std::string tls_version;  // "" when null
  std::string tls_cipher;
  std::string egress_pool;
  std::string egress_source;
  std::string classification;  // "" when null
  int num_attempts = 0;
  nlohmann::json raw;
};

// Every complete line of the log (a line still being written is left out).
std::vector<LogEntry> ReadDeliveryLog(const std::string& path);

// Waits until each of `recipients` has a final record (Delivery or Bounce), then returns the
// whole log. DeadlineExceeded (listing who is missing) after `timeout`.
absl::StatusOr<std::vector<LogEntry>> WaitForFinalRecords(
    const std::string& path, const std::vector<std::string>& recipients, absl::Duration timeout);

// The entries for one recipient, in log order.
std::vector<LogEntry> EntriesFor(const std::vector<LogEntry>& entries,
                                 const std::string& recipient);
// Their types, e.g. {"Reception", "TransientFailure", "Delivery"}.
std::vector<std::string> TypesFor(const std::vector<LogEntry>& entries,
                                  const std::string& recipient);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_DELIVERY_LOG_H_
