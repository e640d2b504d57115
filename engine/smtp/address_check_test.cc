#include "engine/smtp/address_check.h"

#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

TEST(AddressCheckTest, TakesOrdinaryAddresses) {
  EXPECT_EQ(CheckEnvelopeAddress("", false), std::nullopt);
  EXPECT_EQ(CheckEnvelopeAddress("postmaster", false), std::nullopt);
  EXPECT_EQ(CheckEnvelopeAddress("user+tag@mail.example.com", false), std::nullopt);
  EXPECT_EQ(CheckEnvelopeAddress("user@[192.0.2.1]", false), std::nullopt);
  EXPECT_EQ(CheckEnvelopeAddress("j\xC3\xB6rg@b\xC3\xBC"
                                 "cher.example",
                                 true),
            std::nullopt);
}

TEST(AddressCheckTest, NonAsciiNeedsSmtputf8) {
  std::optional<Reply> refusal = CheckEnvelopeAddress("j\xC3\xB6rg@example.com", false);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->code, 553);
  EXPECT_EQ(refusal->Summary().substr(0, 9), "553 5.6.7");
}

TEST(AddressCheckTest, RefusesInvisibleCharactersNamingThem) {
  struct Case {
    const char* address;
    const char* named;
  } cases[] = {
      {"user\xE2\x80\x8B@example.com", "U+200B"},  // zero-width space
      {"us\xE2\x80\x8D"
       "er@example.com",
       "U+200D"},                                  // zero-width joiner
      {"user@exa\xC2\xADmple.com", "U+00AD"},      // soft hyphen
      {"\xEF\xBB\xBFuser@example.com", "U+FEFF"},  // BOM
      {"user@example.com\xE2\x80\xAE", "U+202E"},  // right-to-left override
      {"user\xE2\x81\xA0@example.com", "U+2060"},  // word joiner
  };
  for (const Case& c : cases) {
    std::optional<Reply> refusal = CheckEnvelopeAddress(c.address, /*smtputf8=*/true);
    ASSERT_TRUE(refusal.has_value()) << c.named;
    EXPECT_EQ(refusal->code, 553) << c.named;
    EXPECT_EQ(refusal->Summary().substr(0, 9), "553 5.1.3") << c.named;
    EXPECT_NE(refusal->Text().find(c.named), std::string::npos) << refusal->Text();
  }
  EXPECT_TRUE(IsInvisibleCodePoint(0x200B));
  EXPECT_FALSE(IsInvisibleCodePoint('a'));
  EXPECT_FALSE(IsInvisibleCodePoint(0x00E9));  // é
}

TEST(AddressCheckTest, RefusesMalformedDomains) {
  for (const char* address :
       {"user@localhost", "user@example.123", "user@1.2.3.4", "user@xn--ls8h\xC3\xA9.example"}) {
    std::optional<Reply> refusal = CheckEnvelopeAddress(address, /*smtputf8=*/true);
    ASSERT_TRUE(refusal.has_value()) << address;
    EXPECT_EQ(refusal->code, 501) << address;
    EXPECT_EQ(refusal->Summary().substr(0, 9), "501 5.1.2") << address;
  }
}

}  // namespace
}  // namespace volley::smtp
