#include "engine/base/net_address.h"

#include <netinet/in.h>
#include <sys/socket.h>

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

}  // namespace
}  // namespace volley
