// Helpers of the SmtpSink tests (tests/support/smtp_sink_*_test.cc).
#ifndef VOLLEY_TESTS_SUPPORT_SMTP_SINK_TEST_UTIL_H_
#define VOLLEY_TESTS_SUPPORT_SMTP_SINK_TEST_UTIL_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "bench/smtp_injector.h"
#include "tests/support/smtp_sink.h"

namespace volley::test_support::sink_test {

// Starts a sink; nullptr (and a test failure) when it cannot start.
std::unique_ptr<SmtpSink> StartSink(const SinkOptions& options);

// A body that exercises transparency: lines starting with dots, an empty line, a long line.
std::string BodyFor(size_t i);

// Message `i`: from s<i>@test.example to r<i>@dest.example, with BodyFor(i).
bench::InjectMessage Simple(size_t i);

// Options that record messages and transcripts.
SinkOptions Recording();

// Waits (bounded) until the transcript of some session has `n` commands and returns it.
std::optional<SessionTranscript> WaitForTranscript(const SmtpSink& sink, size_t n,
                                                   size_t index = 0);

}  // namespace volley::test_support::sink_test

#endif  // VOLLEY_TESTS_SUPPORT_SMTP_SINK_TEST_UTIL_H_
