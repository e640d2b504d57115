#include "dns/dns_wire.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace volley::dns {
namespace {

TEST(NormalizeName, LowerCasesAndStripsOneTrailingDot) {
  EXPECT_EQ(NormalizeName("Mail.Example.COM."), "mail.example.com");
  EXPECT_EQ(NormalizeName("example.com"), "example.com");
  EXPECT_EQ(NormalizeName("."), "");
  EXPECT_EQ(NormalizeName(""), "");
}

TEST(ParseIpLiteral, AcceptsNumericAddressesOnly) {
  EXPECT_EQ(ParseIpLiteral("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(ParseIpLiteral("2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(ParseIpLiteral("[2001:db8::1]"), "2001:db8::1");
  EXPECT_EQ(ParseIpLiteral("[::ffff:192.0.2.1]"), "::ffff:192.0.2.1");
  EXPECT_EQ(ParseIpLiteral("mx.example.test"), std::nullopt);
  EXPECT_EQ(ParseIpLiteral("192.0.2"), std::nullopt);
  EXPECT_EQ(ParseIpLiteral("192.0.2.1.example"), std::nullopt);
  EXPECT_EQ(ParseIpLiteral("[192.0.2.1]"),
            std::nullopt);  // brackets are for IPv6 here
  EXPECT_EQ(ParseIpLiteral(""), std::nullopt);
  EXPECT_EQ(ParseIpLiteral("[]"), std::nullopt);
}

// Builds DNS messages byte by byte.
class Message {
 public:
  Message(uint16_t qdcount, uint16_t ancount) {
    Put16(0x1234);
    Put16(0x8180);
    Put16(qdcount);
    Put16(ancount);
    Put16(0);
    Put16(0);
  }
  void Name(const std::vector<std::string>& labels) {
    for (const std::string& l : labels) {
      bytes_.push_back(static_cast<unsigned char>(l.size()));
      bytes_.insert(bytes_.end(), l.begin(), l.end());
    }
    bytes_.push_back(0);
  }
  void Pointer(uint16_t offset) { Put16(0xC000 | offset); }
  void Question() {
    Put16(15);
    Put16(1);
  }
  void Rr(uint16_t type, uint16_t rr_class, uint32_t ttl, const std::vector<unsigned char>& rd) {
    Put16(type);
    Put16(rr_class);
    Put16(static_cast<uint16_t>(ttl >> 16));
    Put16(static_cast<uint16_t>(ttl & 0xFFFF));
    Put16(static_cast<uint16_t>(rd.size()));
    bytes_.insert(bytes_.end(), rd.begin(), rd.end());
  }
  void Put16(uint16_t v) {
    bytes_.push_back(static_cast<unsigned char>(v >> 8));
    bytes_.push_back(static_cast<unsigned char>(v & 0xFF));
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
};

constexpr uint16_t kMx = 15;
const std::vector<unsigned char> kMxRdata = {0, 10, 2, 'm', 'x', 0xC0, 12};

TEST(MinAnswerTtl, SmallestMxOrCnameTtlWithCompression) {
  Message m(1, 4);
  m.Name({"example", "test"});  // offset 12
  m.Question();
  m.Pointer(12);
  m.Rr(kMx, 1, 300, kMxRdata);
  m.Pointer(12);
  m.Rr(kMx, 1, 120, kMxRdata);
  m.Name({"other", "test"});
  m.Rr(16, 1, 5, {3, 'a', 'b', 'c'});  // TXT: not counted
  m.Pointer(12);
  m.Rr(5, 1, 200, {0xC0, 12});  // CNAME: counted
  const auto& b = m.bytes();
  EXPECT_EQ(MinAnswerTtl(b.data(), b.size(), kMx), 120u);
}

TEST(MinAnswerTtl, IgnoresOtherClassesAndClampsNegativeTtl) {
  Message m(1, 2);
  m.Name({"example", "test"});
  m.Question();
  m.Pointer(12);
  m.Rr(kMx, 3, 1, kMxRdata);  // class CH
  m.Pointer(12);
  m.Rr(kMx, 1, 0x80000010u, kMxRdata);
  const auto& b = m.bytes();
  EXPECT_EQ(MinAnswerTtl(b.data(), b.size(), kMx), 0u);
}

TEST(MinAnswerTtl, NoMatchingRecord) {
  Message m(1, 0);
  m.Name({"example", "test"});
  m.Question();
  const auto& b = m.bytes();
  EXPECT_EQ(MinAnswerTtl(b.data(), b.size(), kMx), std::nullopt);
}

TEST(MinAnswerTtl, RejectsEveryTruncation) {
  Message m(1, 1);
  m.Name({"example", "test"});
  m.Question();
  m.Pointer(12);
  m.Rr(kMx, 1, 300, kMxRdata);
  const auto& b = m.bytes();
  ASSERT_EQ(MinAnswerTtl(b.data(), b.size(), kMx), 300u);
  for (size_t len = 0; len < b.size(); ++len) {
    EXPECT_EQ(MinAnswerTtl(b.data(), len, kMx), std::nullopt) << len;
  }
}

TEST(MinAnswerTtl, RejectsReservedLabelTypes) {
  Message m(1, 0);
  m.Put16(0x4000);  // label type 0x40
  const auto& b = m.bytes();
  EXPECT_EQ(MinAnswerTtl(b.data(), b.size(), kMx), std::nullopt);
  EXPECT_EQ(MinAnswerTtl(nullptr, 0, kMx), std::nullopt);
}

}  // namespace
}  // namespace volley::dns
