// Config: the value syntaxes config.h exposes (durations, sizes, host:port, CIDR networks).
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::StartsWith;

TEST(ParseDurationValue, Valid) {
  const struct {
    const char* text;
    absl::Duration want;
  } kCases[] = {
      {"500ms", absl::Milliseconds(500)},
      {"30s", absl::Seconds(30)},
      {"5m", absl::Minutes(5)},
      {"2h", absl::Hours(2)},
      {"3d", absl::Hours(72)},
      {"1h30m", absl::Minutes(90)},
      {"1d2h3m4s5ms",
       absl::Hours(26) + absl::Minutes(3) + absl::Seconds(4) + absl::Milliseconds(5)},
      {"0s", absl::ZeroDuration()},
      {"90m", absl::Minutes(90)},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<absl::Duration> d = ParseDurationValue(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(ParseDurationValue, Invalid) {
  for (const char* text :
       {"", "5", "5 minutes", "5minutes", "m", "-5s", "+5s", "1.5h", "5S", "30m1h", "1h1h",
        "1h 30m", " 5s", "5s ", "99999999999999999999d", "200000000000d"}) {
    absl::StatusOr<absl::Duration> d = ParseDurationValue(text);
    EXPECT_FALSE(d.ok()) << "\"" << text << "\" gave " << *d;
    if (!d.ok()) {
      EXPECT_THAT(std::string(d.status().message()),
                  StartsWith(absl::StrCat("bad duration \"", text, "\"")));
    }
  }
}

TEST(ParseSizeValue, Valid) {
  const struct {
    const char* text;
    uint64_t want;
  } kCases[] = {
      {"1000", 1000},
      {"0", 0},
      {"512B", 512},
      {"10KB", 10'000},
      {"10MB", 10'000'000},
      {"2GB", 2'000'000'000},
      {"512KiB", 512 * 1024},
      {"25MiB", 25 * 1024 * 1024},
      {"1GiB", uint64_t{1} << 30},
      {"25mib", 25 * 1024 * 1024},
      {"18446744073709551615", 18446744073709551615u},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<uint64_t> s = ParseSizeValue(c.text);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.status();
    EXPECT_EQ(*s, c.want) << c.text;
  }
}

TEST(ParseSizeValue, Invalid) {
  for (const char* text : {"", "12XB", "MiB", "-1", "1.5MiB", "25 MiB", "25MiBs", "1TB",
                           "18446744073709551616", "17179869184GiB"}) {
    absl::StatusOr<uint64_t> s = ParseSizeValue(text);
    EXPECT_FALSE(s.ok()) << "\"" << text << "\" gave " << *s;
  }
}

TEST(ParseHostPort, Forms) {
  EXPECT_EQ(*ParseHostPort("127.0.0.1:25", std::nullopt), (HostPort{"127.0.0.1", 25}));
  EXPECT_EQ(*ParseHostPort("[::1]:25", std::nullopt), (HostPort{"::1", 25}));
  EXPECT_EQ(*ParseHostPort("mx.example.com:2525", std::nullopt),
            (HostPort{"mx.example.com", 2525}));
  EXPECT_EQ(*ParseHostPort("10.0.0.1", 53), (HostPort{"10.0.0.1", 53}));
  EXPECT_EQ(*ParseHostPort("[2001:db8::1]", 53), (HostPort{"2001:db8::1", 53}));
  EXPECT_EQ(*ParseHostPort("2001:db8::1", 53), (HostPort{"2001:db8::1", 53}));
  EXPECT_EQ(*ParseHostPort("name", 25), (HostPort{"name", 25}));
}

TEST(ParseHostPort, Errors) {
  for (const char* text :
       {"", ":25", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:+25", "[::1]", "[::1", "[::1]25", "[127.0.0.1]:25", "a:b:c", "::1",
        "999.0.0.1:25", "bad name:25", "-x.example:25", "a..b:25"}) {
    EXPECT_FALSE(ParseHostPort(text, std::nullopt).ok()) << text;
  }
}

TEST(HostPort, ToStringBracketsIpv6) {
  EXPECT_EQ((HostPort{"127.0.0.1", 25}).ToString(), "127.0.0.1:25");
  EXPECT_EQ((HostPort{"::1", 25}).ToString(), "[::1]:25");
  EXPECT_EQ((HostPort{"mx.example", 2525}).ToString(), "mx.example:2525");
}

TEST(Cidr, ParseAndMaskHostBits) {
  EXPECT_EQ(ParseCidr("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseCidr("192.168.1.7")->ToString(), "192.168.1.7/32");
  EXPECT_EQ(ParseCidr("2001:db8::1/32")->ToString(), "2001:db8::/32");
  EXPECT_EQ(ParseCidr("10.255.255.255/12")->ToString(), "10.240.0.0/12");
  EXPECT_EQ(ParseCidr("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(ParseCidr("::/0")->ToString(), "::/0");
  for (const char* text : {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0/8",
                           "example.com/8", "10.0.0.0/8/8", "10.0.0.0/ 8", "[::1]/128"}) {
    EXPECT_FALSE(ParseCidr(text).ok()) << text;
  }
}

TEST(Cidr, Contains) {
  const struct {
    const char* cidr;
    const char* address;
    bool want;
  } kCases[] = {
      {"127.0.0.0/8", "127.0.0.1", true},
      {"127.0.0.0/8", "127.255.255.255", true},
      {"127.0.0.0/8", "128.0.0.1", false},
      {"127.0.0.0/8", "::ffff:127.0.0.1", true},
      {"127.0.0.0/8", "::ffff:10.0.0.1", false},
      {"127.0.0.0/8", "::1", false},
      {"127.0.0.0/8", "::127.0.0.1", false},  // IPv4-compatible, not mapped
      {"10.240.0.0/12", "10.250.1.1", true},
      {"10.240.0.0/12", "10.239.255.255", false},
      {"192.168.1.7", "192.168.1.7", true},
      {"192.168.1.7", "192.168.1.8", false},
      {"0.0.0.0/0", "8.8.8.8", true},
      {"0.0.0.0/0", "::ffff:8.8.8.8", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"::1/128", "::1", true},
      {"::1/128", "::2", false},
      {"::1/128", "127.0.0.1", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8::/33", "2001:db8:8000::1", false},
      {"2001:db8::/33", "2001:db8:7fff::1", true},
      {"::/0", "2001:db8::1", true},
      {"::ffff:10.0.0.0/104", "10.1.2.3", true},
      {"::ffff:10.0.0.0/104", "11.1.2.3", false},
      {"127.0.0.0/8", "not an address", false},
      {"127.0.0.0/8", "", false},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<Cidr> cidr = ParseCidr(c.cidr);
    ASSERT_TRUE(cidr.ok()) << c.cidr;
    EXPECT_EQ(cidr->Contains(c.address), c.want) << c.cidr << " contains " << c.address;
  }
}

}  // namespace
}  // namespace volley::config
