#include "engine/base/net_address.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(NetAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = MakeSocketAddress("127.0.0.2", 2525);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ss_family, AF_INET);
  EXPECT_EQ(IpOf(reinterpret_cast<const sockaddr*>(&*v4)), "127.0.0.2");
  EXPECT_EQ(PortOf(reinterpret_cast<const sockaddr*>(&*v4)), 2525);
  auto v6 = MakeSocketAddress("::1", 25);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ss_family, AF_INET6);
  EXPECT_EQ(IpOf(reinterpret_cast<const sockaddr*>(&*v6)), "::1");
  EXPECT_FALSE(MakeSocketAddress("localhost", 25).ok());
  EXPECT_FALSE(MakeSocketAddress("[::1]", 25).ok());
  EXPECT_TRUE(IsIpLiteral("10.1.2.3"));
  EXPECT_FALSE(IsIpLiteral("mx.example.com"));
}

TEST(NetAddress, TwoReusePortSocketsShareAPort) {
  auto first = BindListeningSocket("127.0.0.1", 0, /*reuse_port=*/true);
  ASSERT_TRUE(first.ok()) << first.status();
  sockaddr_storage bound;
  socklen_t length = sizeof(bound);
  ASSERT_EQ(getsockname(*first, reinterpret_cast<sockaddr*>(&bound), &length), 0);
  const uint16_t port = PortOf(reinterpret_cast<sockaddr*>(&bound));
  ASSERT_NE(port, 0);
  auto second = BindListeningSocket("127.0.0.1", port, /*reuse_port=*/true);
  EXPECT_TRUE(second.ok()) << second.status();
  // Without SO_REUSEPORT the port is taken, and the error names the address.
  auto third = BindListeningSocket("127.0.0.1", port, /*reuse_port=*/false);
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("127.0.0.1"), absl::string_view::npos);
  close(*first);
  if (second.ok()) close(*second);
}

}  // namespace
}  // namespace volley
