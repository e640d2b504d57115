#include "engine/smtp/local_replies.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

TEST(LocalReplies, TheTableIsInOrderAndEveryEntryIsAWellFormedReply) {
  absl::Span<const LocalReplySpec> table = LocalReplies();
  ASSERT_EQ(table.size(), static_cast<size_t>(LocalReply::kMalformedDomain) + 1);
  for (size_t i = 0; i < table.size(); ++i) {
    const LocalReplySpec& spec = table[i];
    EXPECT_EQ(static_cast<size_t>(spec.id), i) << spec.text;
    EXPECT_GE(spec.code, 200) << spec.text;
    EXPECT_LT(spec.code, 600) << spec.text;
    if (!spec.enhanced.empty()) {
      std::optional<EnhancedCode> enhanced = ParseEnhancedCode(spec.enhanced);
      ASSERT_TRUE(enhanced.has_value()) << spec.enhanced;
      // RFC 3463: the class is the reply code's first digit.
      EXPECT_EQ(enhanced->klass, spec.code / 100) << spec.text;
    }
    // The argument count matches the placeholders.
    int placeholders = 0;
    for (int n = 0; n < 10; ++n) {
      if (absl::StrContains(spec.text, absl::StrCat("$", n))) placeholders = n + 1;
    }
    EXPECT_EQ(placeholders, spec.arguments) << spec.text;
  }
}

TEST(LocalReplies, ArgumentsFillTheText) {
  EXPECT_EQ(MakeLocalReply(LocalReply::kNullMx, "example.net").ToWire(),
            "556 5.1.10 domain example.net does not accept mail (null MX)\r\n");
  EXPECT_EQ(MakeLocalReply(LocalReply::kExpiredBounce, 3, "451 4.3.0 later").ToWire(),
            "551 5.4.7 message expired after 3 attempts; last error: 451 4.3.0 later\r\n");
  EXPECT_EQ(MakeLocalReply(LocalReply::kGreeting, "mx.test").ToWire(),
            "220 mx.test ESMTP Volley\r\n");
  EXPECT_EQ(MakeLocalReply(LocalReply::kSpoolFull).ToWire(),
            "452 4.3.1 insufficient system storage; try again later\r\n");
  // An argument with a line break makes a multi-line reply, never a second reply.
  EXPECT_EQ(MakeLocalReply(LocalReply::kConnectionLost, "one\ntwo").ToWire(),
            "451-4.4.2 one\r\n451 4.4.2 two\r\n");
}

}  // namespace
}  // namespace volley::smtp
