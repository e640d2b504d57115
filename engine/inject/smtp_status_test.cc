#include "engine/inject/smtp_status.h"

#include "gtest/gtest.h"

namespace volley::inject {
namespace {

TEST(SmtpReplyFor, EveryInjectionStatusHasItsReply) {
  EXPECT_EQ(SmtpReplyFor(absl::ResourceExhaustedError("disk low")).ToWire(),
            "452 4.3.1 insufficient system storage; try again later\r\n");
  const smtp::Reply stopped = SmtpReplyFor(absl::UnavailableError("writer stopped"));
  EXPECT_EQ(stopped.code, 421);
  ASSERT_TRUE(stopped.enhanced.has_value());
  EXPECT_EQ(stopped.enhanced->ToString(), "4.3.2");
  EXPECT_EQ(SmtpReplyFor(absl::PermissionDeniedError("192.0.2.9")).ToWire(),
            "550 5.7.1 relaying denied for 192.0.2.9\r\n");
  EXPECT_EQ(SmtpReplyFor(absl::InvalidArgumentError("no domain")).ToWire(),
            "550 5.1.3 recipient address must include a domain\r\n");
  EXPECT_EQ(SmtpReplyFor(absl::InternalError("boom")).code, 451);
  EXPECT_EQ(SmtpReplyFor(absl::InternalError("boom")).enhanced->ToString(), "4.3.0");
}

}  // namespace
}  // namespace volley::inject
