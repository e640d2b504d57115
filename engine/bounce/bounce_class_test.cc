#include "engine/bounce/bounce_class.h"

#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

TEST(BounceClass, EveryClassHasItsNameAndBack) {
  for (size_t i = 0; i < kBounceClassCount; ++i) {
    const auto c = static_cast<BounceClass>(i);
    const absl::string_view name = BounceClassName(c);
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(ParseBounceClass(name), c) << name;
  }
  EXPECT_EQ(BounceClassName(BounceClass::kInvalidRecipient), "InvalidRecipient");
  EXPECT_EQ(BounceClassName(BounceClass::kUncategorized), "Uncategorized");
  EXPECT_EQ(ParseBounceClass("MessageTooLarge"), std::nullopt);
  EXPECT_EQ(ParseBounceClass("invalidrecipient"), std::nullopt);
}

}  // namespace
}  // namespace volley::bounce
