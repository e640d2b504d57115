#include "tests/support/unbound_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

struct Reply {
  int rcode;
  int ancount;
  int nscount;
};

// Sends one query (RD set) for `name` of type `qtype` over UDP and returns the
// reply's header fields, or nullopt if nothing comes back within `wait_ms`.
std::optional<Reply> Query(uint16_t port, absl::string_view name, uint16_t qtype,
                           int wait_ms = 2000) {
  std::string q("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  for (absl::string_view label : absl::StrSplit(name, '.', absl::SkipEmpty())) {
    q.push_back(static_cast<char>(label.size()));
    q.append(label.data(), label.size());
  }
  q.push_back('\0');
  q.push_back(static_cast<char>(qtype >> 8));
  q.push_back(static_cast<char>(qtype & 0xFF));
  q.append("\x00\x01", 2);
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::optional<Reply> reply;
  unsigned char buf[1500];
  pollfd pfd{fd, POLLIN, 0};
  if (sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) > 0 &&
      poll(&pfd, 1, wait_ms) == 1) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n >= 12) reply = Reply{buf[3] & 0x0F, (buf[6] << 8) | buf[7], (buf[8] << 8) | buf[9]};
  }
  close(fd);
  return reply;
}

TEST(UnboundServer, AuthServfailAndDropZones) {
  UnboundOptions options;
  AuthZone zone;
  zone.name = "auth.test";
  zone.negative_ttl = 45;
  zone.records = {{"mx.auth.test", "A", "192.0.2.5"},
                  {"alias.auth.test", "CNAME", "mx.auth.test."}};
  options.auth_zones = {zone};
  options.servfail_zones = {"fail.test"};
  options.drop_zones = {"drop.test"};
  options.log_replies = true;
  auto server = UnboundServer::Start(TmpDir("kinds"), {{"local.test", "A", "192.0.2.1"}}, options);
  ASSERT_TRUE(server.ok()) << server.status();
  const uint16_t port = (*server)->port();

  // Local data next to the other kinds still works.
  std::optional<Reply> r = Query(port, "local.test", 1);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rcode, 0);
  EXPECT_EQ(r->ancount, 1);
  // The auth zone follows its CNAME, and its NXDOMAIN carries the SOA.
  r = Query(port, "alias.auth.test", 1);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rcode, 0);
  EXPECT_EQ(r->ancount, 2);
  r = Query(port, "none.auth.test", 15);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rcode, 3);
  EXPECT_EQ(r->nscount, 1);
  r = Query(port, "x.fail.test", 15);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rcode, 2);
  EXPECT_FALSE(Query(port, "x.drop.test", 15, 300).has_value());

  EXPECT_EQ((*server)->CountQueries("alias.auth.test.", "A"), 1);
  EXPECT_EQ((*server)->CountQueries("X.Fail.Test", "MX"), 1);
  EXPECT_EQ((*server)->CountQueries("x.fail.test", "A"), 0);
  EXPECT_THAT((*server)->ReadLog(), HasSubstr("none.auth.test. MX IN NXDOMAIN"));

  // Reload with other options: the SERVFAIL zone is gone, so its names are
  // under the built-in "test." zone again (NXDOMAIN).
  ASSERT_TRUE((*server)->Reload({{"local.test", "A", "192.0.2.1"}}, UnboundOptions{}).ok());
  r = Query(port, "x.fail.test", 15);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rcode, 3);
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
