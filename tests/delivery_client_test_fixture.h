// The fixture of the delivery client tests (tests/delivery_client_*_test.cc): a recording sink,
// a volleyd routing "client.test" to it, and helpers to inject and to wait for the log.
#ifndef VOLLEY_TESTS_DELIVERY_CLIENT_TEST_FIXTURE_H_
#define VOLLEY_TESTS_DELIVERY_CLIENT_TEST_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {

// A sink, a volleyd routing "client.test" to it, and helpers.
class ClientTest : public ::testing::Test {
 protected:
  // `extra` is appended to the config (e.g. "[shaping.default]\ntls = \"required\"\n").
  // `route_extra` goes inside the route's inline table (e.g. ", tls = \"implicit\"").
  void Start(test_support::SinkOptions sink_options, const std::string& extra = "",
             const std::string& route_extra = "");

  // Injects one message per recipient list; returns once volleyd has answered them all.
  void Inject(const std::vector<std::vector<std::string>>& messages,
              const std::string& content = "Subject: test\r\n\r\nbody\r\n");

  // The records of `recipients`, once each has a final one (a test failure after `timeout`).
  std::vector<test_support::LogEntry> WaitFinal(const std::vector<std::string>& recipients,
                                                absl::Duration timeout = absl::Seconds(20));

  // Records of `type` for a recipient, waiting up to `timeout` for at least one.
  std::vector<test_support::LogEntry> WaitFor(const std::string& recipient, const std::string& type,
                                              absl::Duration timeout = absl::Seconds(20));

  std::string dir_;
  std::string log_path_;
  std::unique_ptr<test_support::SmtpSink> sink_;
  std::unique_ptr<test_support::VolleydProcess> volleyd_;
};

// Whether some session sent a command starting with `prefix`.
bool HasCommandStarting(const std::vector<test_support::SessionTranscript>& transcripts,
                        absl::string_view prefix);

}  // namespace volley

#endif  // VOLLEY_TESTS_DELIVERY_CLIENT_TEST_FIXTURE_H_
