#include "tests/support/unbound_server.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::test_support {
namespace {

using ::testing::HasSubstr;

std::string TmpDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

TEST(UnboundServer, StartsServesAndLogsQueries) {
  auto server = UnboundServer::Start(
      TmpDir("serves"), {{"a.test", "A", "192.0.2.1"}, {"txt.test", "TXT", "\"two words\""}});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE((*server)->port(), 0);
  EXPECT_EQ((*server)->address(), absl::StrCat("127.0.0.1:", (*server)->port()));
  ASSERT_TRUE((*server)->Reload({{"b.test", "A", "192.0.2.2"}}).ok());
  std::ifstream log((*server)->log_path());
  std::stringstream text;
  text << log.rdbuf();
  // log-queries is on: the readiness probes of both generations are there.
  EXPECT_THAT(text.str(), HasSubstr("generation.volley-harness.invalid. TXT"));
}

TEST(UnboundServer, MissingBinaryIsReportedClearly) {
  UnboundOptions options;
  options.unbound_path = "/nonexistent/unbound";
  auto server = UnboundServer::Start(TmpDir("missing"), {}, options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("/nonexistent/unbound"));
  EXPECT_THAT(server.status().message(), HasSubstr("unbound"));
}

TEST(UnboundServer, RecordUnboundRejectsFailsWithLogTail) {
  auto server =
      UnboundServer::Start(TmpDir("rejected"), {{"bad.test", "MX", "notanumber mx.test."}});
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("unbound exited"));
  EXPECT_THAT(server.status().message(), HasSubstr("bad.test"));
}

TEST(UnboundServer, RecordsThatWouldBreakTheConfigAreRefused) {
  auto server = UnboundServer::Start(TmpDir("badchars"), {{"a b.test", "A", "192.0.2.1"}});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  server = UnboundServer::Start(TmpDir("badchars"), {{"a.test", "TXT", "\"it's\""}});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace volley::test_support
