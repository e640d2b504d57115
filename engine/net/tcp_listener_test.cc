#include "engine/net/tcp_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/base/net_address.h"
#include "gtest/gtest.h"

namespace volley::net {
namespace {

uint16_t BoundPort(int fd) {
  sockaddr_storage bound;
  socklen_t length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return 0;
  return PortOf(reinterpret_cast<sockaddr*>(&bound));
}

TEST(BindListeningSocket, TwoReusePortSocketsShareAPort) {
  ListenOptions options;
  options.reuse_port = true;
  absl::StatusOr<int> first = BindListeningSocket(options);
  ASSERT_TRUE(first.ok()) << first.status();
  options.port = BoundPort(*first);
  ASSERT_NE(options.port, 0);
  absl::StatusOr<int> second = BindListeningSocket(options);
  EXPECT_TRUE(second.ok()) << second.status();
  // Without SO_REUSEPORT the port is taken, and the error names the address.
  options.reuse_port = false;
  absl::StatusOr<int> third = BindListeningSocket(options);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(third.status().message().find("127.0.0.1"), absl::string_view::npos);
  close(*first);
  if (second.ok()) close(*second);
}

TEST(BindListeningSocket, RefusesAName) {
  ListenOptions options;
  options.address = "localhost";
  EXPECT_EQ(BindListeningSocket(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace volley::net
