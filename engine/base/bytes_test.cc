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

}  // namespace
}  // namespace volley
