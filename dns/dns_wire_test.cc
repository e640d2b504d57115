#include "dns/dns_wire.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::dns {
namespace {

TEST(NormalizeName, LowerCasesAndStripsOneTrailingDot) {
  EXPECT_EQ(NormalizeName("Mail.Example.COM."), "mail.example.com");
  EXPECT_EQ(NormalizeName("example.com"), "example.com");
  EXPECT_EQ(NormalizeName("."), "");
  EXPECT_EQ(NormalizeName(""), "");
}

TEST(IsLookupName, OnlyLowerCaseAsciiWithoutTrailingDot) {
  EXPECT_TRUE(IsLookupName("mail.example.com"));
  EXPECT_TRUE(IsLookupName("xn--bcher-kva.test"));
  EXPECT_TRUE(IsLookupName(""));
  EXPECT_FALSE(IsLookupName("Mail.example.com"));
  EXPECT_FALSE(IsLookupName("mail.example.com."));
  EXPECT_FALSE(
      IsLookupName("b\xC3\xBC"
                   "cher.test"));
}

TEST(ToLookupName, AsciiIsNormalised) {
  std::string out = "left over";
  ASSERT_TRUE(ToLookupName("Mail.Example.COM.", out).ok());
  EXPECT_EQ(out, "mail.example.com");
  ASSERT_TRUE(ToLookupName("a_b.test", out).ok());  // not an IDN: no IDNA rules apply
  EXPECT_EQ(out, "a_b.test");
  ASSERT_TRUE(ToLookupName(".", out).ok());
  EXPECT_EQ(out, "");
}

TEST(ToLookupName, Utf8BecomesALabels) {
  std::string out;
  ASSERT_TRUE(ToLookupName("b\xC3\xBC"
                           "cher.test",
                           out)
                  .ok());  // "bücher.test"
  EXPECT_EQ(out, "xn--bcher-kva.test");
  // Upper case is mapped (UTS #46), the trailing dot dropped.
  ASSERT_TRUE(ToLookupName("B\xC3\x9C"
                           "CHER.Test.",
                           out)
                  .ok());  // "BÜCHER.Test."
  EXPECT_EQ(out, "xn--bcher-kva.test");
  // Non-transitional: "ß" stays a letter of its own instead of becoming "ss".
  ASSERT_TRUE(ToLookupName("fa\xC3\x9F.de", out).ok());
  EXPECT_EQ(out, "xn--fa-hia.de");
  // An A-label next to a U-label passes through.
  ASSERT_TRUE(ToLookupName("m\xC3\xBC"
                           "nchen.xn--bcher-kva.test",
                           out)
                  .ok());
  EXPECT_EQ(out, "xn--mnchen-3ya.xn--bcher-kva.test");
}

TEST(ToLookupName, InvalidIdnsAreRejected) {
  std::string out;
  // Not UTF-8 (a Latin-1 "ü"): the bytes are escaped in the message.
  absl::Status s = ToLookupName(
      "b\xFC"
      "cher.test",
      out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(s.message()),
      ::testing::StartsWith("invalid internationalised domain name: b\\xfc\\x63her.test ("));
  // A snowman is not allowed by IDNA2008.
  s = ToLookupName("\xE2\x98\x83.test", out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("invalid internationalised"));
  // A U-label too long for a DNS label once encoded.
  s = ToLookupName(absl::StrCat("\xC3\xBC", std::string(70, 'a'), ".test"), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
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
  Message(uint16_t qdcount, uint16_t ancount, uint16_t nscount = 0, uint16_t rcode = 0) {
    Put16(0x1234);
    Put16(0x8180 | rcode);
    Put16(qdcount);
    Put16(ancount);
    Put16(nscount);
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

TEST(MinAnswerTtl, CnameChainCountsEveryLink) {
  // a.test CNAME b.test (60), b.test CNAME c.test (3600), c.test A (300).
  Message m(1, 3);
  m.Name({"a", "test"});
  m.Put16(1);
  m.Put16(1);
  m.Pointer(12);
  m.Rr(5, 1, 60, {1, 'b', 0xC0, 14});
  m.Name({"b", "test"});
  m.Rr(5, 1, 3600, {1, 'c', 0xC0, 14});
  m.Name({"c", "test"});
  m.Rr(1, 1, 300, {192, 0, 2, 1});
  const auto& b = m.bytes();
  EXPECT_EQ(MinAnswerTtl(b.data(), b.size(), 1), 60u);
}

TEST(MinAnswerTtl, RejectsReservedLabelTypes) {
  Message m(1, 0);
  m.Put16(0x4000);  // label type 0x40
  const auto& b = m.bytes();
  EXPECT_EQ(MinAnswerTtl(b.data(), b.size(), kMx), std::nullopt);
  EXPECT_EQ(MinAnswerTtl(nullptr, 0, kMx), std::nullopt);
}

constexpr uint16_t kSoa = 6;

// SOA RDATA: MNAME and RNAME as pointers to the question name, then SERIAL,
// REFRESH, RETRY, EXPIRE and MINIMUM.
std::vector<unsigned char> SoaRdata(uint32_t minimum) {
  std::vector<unsigned char> rd = {0xC0, 12, 0xC0, 12};
  for (uint32_t v : {1u, 3600u, 600u, 86400u, minimum}) {
    for (int shift = 24; shift >= 0; shift -= 8) rd.push_back((v >> shift) & 0xFF);
  }
  return rd;
}

TEST(NegativeTtl, SmallerOfSoaTtlAndMinimum) {
  // NXDOMAIN with the SOA in the authority section (RFC 2308 section 3).
  Message m(1, 0, 1, 3);
  m.Name({"example", "test"});
  m.Question();
  m.Pointer(12);
  m.Rr(kSoa, 1, 3600, SoaRdata(45));
  const auto& b = m.bytes();
  EXPECT_EQ(NegativeTtl(b.data(), b.size()), 45u);

  Message m2(1, 0, 1);
  m2.Name({"example", "test"});
  m2.Question();
  m2.Pointer(12);
  m2.Rr(kSoa, 1, 20, SoaRdata(900));
  const auto& b2 = m2.bytes();
  EXPECT_EQ(NegativeTtl(b2.data(), b2.size()), 20u);
}

TEST(NegativeTtl, SkipsTheAnswerSectionAndOtherRecords) {
  // NODATA after a CNAME: the CNAME in the answer, NS and SOA in the authority
  // section, names uncompressed.
  Message m(1, 1, 2);
  m.Name({"alias", "test"});
  m.Question();
  m.Pointer(12);
  m.Rr(5, 1, 300, {4, 'r', 'e', 'a', 'l', 0xC0, 18});
  m.Name({"test"});
  m.Rr(2, 1, 10, {2, 'n', 's', 0xC0, 18});  // NS: not counted
  m.Name({"test"});
  std::vector<unsigned char> rd = {2, 'n', 's', 0, 4, 'm', 'a', 'i', 'l', 0};
  const std::vector<unsigned char> fields = SoaRdata(600);
  rd.insert(rd.end(), fields.begin() + 4, fields.end());
  m.Rr(kSoa, 1, 7200, rd);
  const auto& b = m.bytes();
  EXPECT_EQ(NegativeTtl(b.data(), b.size()), 600u);
}

TEST(NegativeTtl, NoSoaAndOtherClasses) {
  Message m(1, 0, 1);
  m.Name({"example", "test"});
  m.Question();
  m.Pointer(12);
  m.Rr(kSoa, 3, 60, SoaRdata(60));  // class CH: not counted
  const auto& b = m.bytes();
  EXPECT_EQ(NegativeTtl(b.data(), b.size()), std::nullopt);

  Message empty(1, 0);
  empty.Name({"example", "test"});
  empty.Question();
  const auto& e = empty.bytes();
  EXPECT_EQ(NegativeTtl(e.data(), e.size()), std::nullopt);
  EXPECT_EQ(NegativeTtl(nullptr, 0), std::nullopt);
}

TEST(NegativeTtl, TopBitTtlCountsAsZero) {
  Message m(1, 0, 1);
  m.Name({"example", "test"});
  m.Question();
  m.Pointer(12);
  m.Rr(kSoa, 1, 0x80000000u, SoaRdata(300));
  const auto& b = m.bytes();
  EXPECT_EQ(NegativeTtl(b.data(), b.size()), 0u);
}

TEST(NegativeTtl, RejectsEveryTruncationAndShortRdata) {
  Message m(1, 0, 1);
  m.Name({"example", "test"});
  m.Question();
  m.Pointer(12);
  m.Rr(kSoa, 1, 300, SoaRdata(60));
  const auto& b = m.bytes();
  ASSERT_EQ(NegativeTtl(b.data(), b.size()), 60u);
  for (size_t len = 0; len < b.size(); ++len) {
    EXPECT_EQ(NegativeTtl(b.data(), len), std::nullopt) << len;
  }
  // RDATA one byte short of MINIMUM.
  std::vector<unsigned char> short_rd = SoaRdata(60);
  short_rd.pop_back();
  Message s(1, 0, 1);
  s.Name({"example", "test"});
  s.Question();
  s.Pointer(12);
  s.Rr(kSoa, 1, 300, short_rd);
  const auto& sb = s.bytes();
  EXPECT_EQ(NegativeTtl(sb.data(), sb.size()), std::nullopt);
}

}  // namespace
}  // namespace volley::dns
