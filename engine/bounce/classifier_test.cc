#include "engine/bounce/classifier.h"

#include "engine/bounce/bounce_class.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

absl::string_view Name(const smtp::Reply& reply) { return BounceClassName(Classify(reply)); }

TEST(BounceClassifier, EnhancedCodeFirstThenText) {
  EXPECT_EQ(Name(smtp::MakeReply(550, "5.1.1", "no such user")), "InvalidRecipient");
  EXPECT_EQ(Name(smtp::MakeReply(550, "5.1.2", "bad domain")), "BadDomain");
  EXPECT_EQ(Name(smtp::MakeReply(556, "5.1.10", "null MX")), "BadDomain");
  EXPECT_EQ(Name(smtp::MakeReply(552, "5.2.2", "over quota")), "QuotaIssues");
  EXPECT_EQ(Name(smtp::MakeReply(550, "5.7.1", "rejected by policy")), "PolicyRelated");
  EXPECT_EQ(Name(smtp::MakeReply(552, "5.3.4", "too big")), "QuotaIssues");
  EXPECT_EQ(Name(smtp::MakeReply(554, "5.6.3", "conversion needed")), "ContentRelated");
  EXPECT_EQ(Name(smtp::MakeReply(451, "4.4.3", "dns")), "DNSFailure");
  EXPECT_EQ(Name(smtp::MakeReply(452, "4.5.3", "too many recipients")), "TooManyRecipients");
  // Text beats the code where it is more specific.
  EXPECT_EQ(Name(smtp::MakeReply(550, "5.7.1", "listed at spamhaus")), "SpamBlock");
  // No enhanced code: the text decides.
  EXPECT_EQ(Name(smtp::MakeReply(550, "", "User unknown in virtual table")), "InvalidRecipient");
  EXPECT_EQ(Name(smtp::MakeReply(451, "", "try again")), "TransientFailure");
  EXPECT_EQ(Name(smtp::MakeReply(554, "", "go away")), "Uncategorized");
}

}  // namespace
}  // namespace volley::bounce

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
