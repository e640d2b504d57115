#include "engine/delivery/bounce_classifier.h"

#include "gtest/gtest.h"

namespace volley::delivery {
namespace {

TEST(BounceClassifier, EnhancedCodeFirstThenText) {
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(550, "5.1.1", "no such user")), "InvalidRecipient");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(550, "5.1.2", "bad domain")), "BadDomain");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(556, "5.1.10", "null MX")), "BadDomain");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(552, "5.2.2", "over quota")), "QuotaIssues");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(550, "5.7.1", "rejected by policy")), "PolicyRelated");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(552, "5.3.4", "too big")), "MessageTooLarge");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(554, "5.6.3", "conversion needed")), "ContentRelated");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(451, "4.4.3", "dns")), "DNSFailure");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(452, "4.5.3", "too many recipients")),
            "TooManyRecipients");
  // Text beats the code where it is more specific.
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(550, "5.7.1", "listed at spamhaus")), "SpamBlock");
  // No enhanced code: the text decides.
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(550, "", "User unknown in virtual table")),
            "InvalidRecipient");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(451, "", "try again")), "TransientFailure");
  EXPECT_EQ(ClassifyBounce(smtp::MakeReply(554, "", "go away")), "Uncategorized");
}

}  // namespace
}  // namespace volley::delivery
