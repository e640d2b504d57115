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

}  // namespace
}  // namespace volley
