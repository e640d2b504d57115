#include "engine/config/values.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

// ParseDurationValue, ParseSizeValue, ParseHostPort, HostPort and Cidr are tested through
// config.h in config_values_test.cc; these are the helpers values.h exposes for the section
// parsers.

TEST(IsDomainName, AcceptsHostNames) {
  for (const char* name : {"example.com", "mx1.example.net", "localhost", "a_b.example",
                           "xn--bcher-kva.example", "a-b.example", "1.example", "EXAMPLE.com"}) {
    EXPECT_TRUE(IsDomainName(name)) << name;
  }
  const std::string longest_label(63, 'a');
  EXPECT_TRUE(IsDomainName(longest_label + ".example"));
  // 253 characters: the longest name DNS carries.
  std::string longest_name;
  for (int i = 0; i < 3; ++i) longest_name += longest_label + ".";
  longest_name += std::string(253 - longest_name.size(), 'b');
  ASSERT_EQ(longest_name.size(), 253u);
  EXPECT_TRUE(IsDomainName(longest_name));
  EXPECT_FALSE(IsDomainName(longest_name + "b"));
}

TEST(IsDomainName, RejectsWhatIsNotAHostName) {
  for (const char* name : {"", ".", "a..b", ".example", "example.", "-a.example", "a-.example",
                           "a b.example", "*.example", "a:25", "[::1]", "\xc3\xa4.example"}) {
    EXPECT_FALSE(IsDomainName(name)) << name;
  }
  EXPECT_FALSE(IsDomainName(std::string(64, 'a') + ".example"));
}

TEST(SplitHostPort, Forms) {
  absl::StatusOr<SplitAddress> split = SplitHostPort("[::1]:25");
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->host, "::1");
  EXPECT_EQ(split->port, 25);
  EXPECT_TRUE(split->is_ip);
  EXPECT_FALSE(split->unbracketed_ipv6);

  split = SplitHostPort("::1");
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->host, "::1");
  EXPECT_EQ(split->port, std::nullopt);
  EXPECT_TRUE(split->is_ip);
  EXPECT_TRUE(split->unbracketed_ipv6);

  split = SplitHostPort("[2001:db8::1]");
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->host, "2001:db8::1");
  EXPECT_EQ(split->port, std::nullopt);
  EXPECT_FALSE(split->unbracketed_ipv6);

  split = SplitHostPort("10.0.0.1:2525");
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->host, "10.0.0.1");
  EXPECT_EQ(split->port, 2525);
  EXPECT_TRUE(split->is_ip);

  split = SplitHostPort("smart.example");
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->host, "smart.example");
  EXPECT_EQ(split->port, std::nullopt);
  EXPECT_FALSE(split->is_ip);
}

TEST(SplitHostPort, PortZeroOnlyWhenAllowed) {
  absl::StatusOr<SplitAddress> split = SplitHostPort("127.0.0.1:0", /*allow_port_zero=*/true);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->port, 0);
  EXPECT_EQ(SplitHostPort("127.0.0.1:0").status().message(),
            "bad address \"127.0.0.1:0\": port \"0\" is not a number from 1 to 65535");
  EXPECT_EQ(SplitHostPort("127.0.0.1:65536", /*allow_port_zero=*/true).status().message(),
            "bad address \"127.0.0.1:65536\": port \"65536\" is not a number from 0 to 65535");
}

TEST(SplitHostPort, ErrorsSayWhatIsWrong) {
  const struct {
    const char* text;
    const char* message;
  } kCases[] = {
      {"", "bad address \"\": empty (expected host:port)"},
      {"[::1", "bad address \"[::1\": missing ']'"},
      {"[10.0.0.1]:25",
       "bad address \"[10.0.0.1]:25\": only IPv6 addresses are written in brackets"},
      {"[::1]25", "bad address \"[::1]25\": expected ':' and a port after ']'"},
      {"a:b:c", "bad address \"a:b:c\": too many ':' (write IPv6 addresses as [address]:port)"},
      {":25", "bad address \":25\": missing host"},
      {"999.0.0.1:25", "bad address \"999.0.0.1:25\": \"999.0.0.1\" is not a valid IPv4 address"},
      {"bad name:25",
       "bad address \"bad name:25\": \"bad name\" is not a valid IP address or host name"},
      {"10.0.0.1:", "bad address \"10.0.0.1:\": port \"\" is not a number from 1 to 65535"},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<SplitAddress> split = SplitHostPort(c.text);
    EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(split.status().message(), c.message);
  }
}

TEST(ParseHostPort, MissingPortSaysWhichFormIsExpected) {
  EXPECT_EQ(ParseHostPort("10.0.0.1", std::nullopt).status().message(),
            "bad address \"10.0.0.1\": missing port (expected host:port)");
  EXPECT_EQ(ParseHostPort("::1", std::nullopt).status().message(),
            "bad address \"::1\": missing port (expected [address]:port for IPv6)");
}

}  // namespace
}  // namespace volley::config
