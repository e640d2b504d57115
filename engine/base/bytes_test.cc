#include "engine/base/bytes.h"

#include <string>

#include "gtest/gtest.h"

namespace volley {
namespace {

TEST(HasEightBit, FindsAHighOctetAnywhere) {
  EXPECT_FALSE(HasEightBit(""));
  EXPECT_FALSE(HasEightBit(std::string(1000, 'a')));
  EXPECT_TRUE(HasEightBit("caf\xc3\xa9"));
  // In the word-at-a-time part and in the tail.
  for (size_t at : {0, 3, 7, 8, 999, 1000}) {
    std::string text(1001, 'a');
    text[at] = '\x80';
    EXPECT_TRUE(HasEightBit(text)) << at;
  }
  EXPECT_FALSE(HasEightBit(std::string(1001, '\x7f')));
}

TEST(DecodeHexEscapes, UndoesPlusHexAndRefusesAMalformedOne) {
  EXPECT_EQ(DecodeHexEscapes("a+2Bb+3dc"), "a+b=c");
  EXPECT_EQ(DecodeHexEscapes("plain"), "plain");
  EXPECT_EQ(DecodeHexEscapes("+C3+B6"), "\xC3\xB6");
  EXPECT_EQ(DecodeHexEscapes("bad+zz"), std::nullopt);
  EXPECT_EQ(DecodeHexEscapes("end+4"), std::nullopt);
  EXPECT_EQ(DecodeHexEscapes("+"), std::nullopt);
}

TEST(IsValidUtf8, AcceptsWellFormedOnly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ASCII text, longer than eight octets"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // stray continuation
  EXPECT_FALSE(IsValidUtf8("eight ASCII octets then \xFF"));
}

}  // namespace
}  // namespace volley
