#include "tests/support/smtp_sink_test_util.h"

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace volley::test_support::sink_test {

using bench::InjectMessage;

std::unique_ptr<SmtpSink> StartSink(const SinkOptions& options) {
  absl::StatusOr<std::unique_ptr<SmtpSink>> sink = SmtpSink::Start(options);
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? std::move(*sink) : nullptr;
}

std::string BodyFor(size_t i) {
  std::string body =
      absl::StrCat("From: s", i, "@test.example\r\nSubject: message ", i, "\r\n\r\n");
  absl::StrAppend(&body, ".starts with a dot\r\n", "..two dots\r\n", ".\r\n", "\r\n");
  absl::StrAppend(&body, std::string(100 + i % 900, static_cast<char>('a' + i % 26)), "\r\n");
  absl::StrAppend(&body, "last line ", i, "\r\n");
  return body;
}

InjectMessage Simple(size_t i) {
  InjectMessage m;
  m.mail_from = absl::StrCat("s", i, "@test.example");
  m.recipients = {absl::StrCat("r", i, "@dest.example")};
  m.content = BodyFor(i);
  return m;
}

SinkOptions Recording() {
  SinkOptions options;
  options.record = true;
  return options;
}

std::optional<SessionTranscript> WaitForTranscript(const SmtpSink& sink, size_t n, size_t index) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    std::vector<SessionTranscript> all = sink.Transcripts();
    if (all.size() > index && all[index].commands.size() >= n) return all[index];
    absl::SleepFor(absl::Milliseconds(2));
  }
  return std::nullopt;
}

}  // namespace volley::test_support::sink_test
