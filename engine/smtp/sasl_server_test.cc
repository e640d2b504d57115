#include "engine/smtp/sasl_server.h"

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/smtp/local_replies.h"
#include "engine/smtp/reply.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// "challenge <base64>", "success <user>" or "failure <reply wire form>".
std::string Describe(const SaslStep& step) {
  if (const auto* challenge = std::get_if<SaslChallenge>(&step)) {
    return absl::StrCat("challenge ", challenge->base64);
  }
  if (const auto* credentials = std::get_if<SaslCredentials>(&step)) {
    return absl::StrCat("credentials ", credentials->user);
  }
  return absl::StrCat("failure ", std::get<SaslFailure>(step).reply.ToWire());
}

std::string Failure(LocalReply id) { return absl::StrCat("failure ", MakeLocalReply(id).ToWire()); }

std::string Base64(absl::string_view text) { return absl::Base64Escape(text); }

std::string Plain(absl::string_view authzid, absl::string_view user, absl::string_view password) {
  return Base64(absl::StrCat(authzid, absl::string_view("\0", 1), user, absl::string_view("\0", 1),
                             password));
}

class SaslServerTest : public ::testing::Test {
 protected:
  // As the session does with the credentials a step yields: records every check, and only
  // alice/secret is good.
  std::string Describe(const SaslStep& step) {
    const auto* credentials = std::get_if<SaslCredentials>(&step);
    if (credentials == nullptr) return volley::smtp::Describe(step);
    checks_.emplace_back(credentials->user, credentials->password);
    if (credentials->user == "alice" && credentials->password == "secret") {
      return absl::StrCat("success ", credentials->user);
    }
    return Failure(LocalReply::kAuthInvalid);
  }
  std::vector<std::pair<std::string, std::string>> checks_;
  SaslServer sasl_;
};

TEST(SaslChallenge, WireFormKeepsTheSpaceOfAnEmptyChallenge) {
  EXPECT_EQ(SaslChallenge{""}.ToWire(), "334 \r\n");
  EXPECT_EQ(SaslChallenge{"VXNlcm5hbWU6"}.ToWire(), "334 VXNlcm5hbWU6\r\n");
}

TEST_F(SaslServerTest, PlainWithAChallenge) {
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", std::nullopt)), "challenge ");
  EXPECT_TRUE(sasl_.awaiting_response());
  EXPECT_EQ(Describe(sasl_.Respond(Plain("", "alice", "secret"))), "success alice");
  EXPECT_FALSE(sasl_.awaiting_response());
  EXPECT_THAT(checks_, ElementsAre(Pair("alice", "secret")));
}

TEST_F(SaslServerTest, PlainWithAnInitialResponse) {
  EXPECT_EQ(Describe(sasl_.Start("plain", Plain("", "alice", "secret"))), "success alice");
  EXPECT_FALSE(sasl_.awaiting_response());
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", Plain("", "alice", "wrong"))),
            Failure(LocalReply::kAuthInvalid));
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", Plain("", "bob", "secret"))),
            Failure(LocalReply::kAuthInvalid));
  EXPECT_THAT(checks_,
              ElementsAre(Pair("alice", "secret"), Pair("alice", "wrong"), Pair("bob", "secret")));
}

TEST_F(SaslServerTest, PlainAuthorizationIdentity) {
  // The user's own identity as authzid is the same as none.
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", Plain("alice", "alice", "secret"))), "success alice");
  // Acting for someone else is refused before the password is even checked.
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", Plain("bob", "alice", "secret"))),
            Failure(LocalReply::kAuthInvalid));
  EXPECT_THAT(checks_, ElementsAre(Pair("alice", "secret")));
}

TEST_F(SaslServerTest, MalformedPlainResponses) {
  const std::string nul(1, '\0');
  for (const std::string& decoded :
       {std::string("alice"), "alice" + nul + "secret", nul + nul + "secret",
        nul + "alice" + nul + "secret" + nul, std::string()}) {
    EXPECT_EQ(Describe(sasl_.Start("PLAIN", Base64(decoded))), Failure(LocalReply::kAuthBadPlain))
        << absl::CEscape(decoded);
    EXPECT_FALSE(sasl_.awaiting_response());
  }
  // "=" is the empty response, which PLAIN cannot use either.
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", "=")), Failure(LocalReply::kAuthBadPlain));
  EXPECT_THAT(checks_, IsEmpty());
  // An empty password is the authenticator's to judge.
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", Plain("", "alice", ""))),
            Failure(LocalReply::kAuthInvalid));
  EXPECT_THAT(checks_, ElementsAre(Pair("alice", "")));
}

TEST_F(SaslServerTest, Login) {
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", std::nullopt)), "challenge VXNlcm5hbWU6");
  EXPECT_TRUE(sasl_.awaiting_response());
  EXPECT_EQ(Describe(sasl_.Respond(Base64("alice"))), "challenge UGFzc3dvcmQ6");
  EXPECT_TRUE(sasl_.awaiting_response());
  EXPECT_EQ(Describe(sasl_.Respond(Base64("secret"))), "success alice");
  EXPECT_FALSE(sasl_.awaiting_response());
  // The challenges are what LOGIN clients expect.
  std::string text;
  ASSERT_TRUE(absl::Base64Unescape("VXNlcm5hbWU6", &text));
  EXPECT_EQ(text, "Username:");
  ASSERT_TRUE(absl::Base64Unescape("UGFzc3dvcmQ6", &text));
  EXPECT_EQ(text, "Password:");
}

TEST_F(SaslServerTest, LoginWithTheUserAsInitialResponse) {
  EXPECT_EQ(Describe(sasl_.Start("login", Base64("alice"))), "challenge UGFzc3dvcmQ6");
  EXPECT_EQ(Describe(sasl_.Respond(Base64("wrong"))), Failure(LocalReply::kAuthInvalid));
  EXPECT_FALSE(sasl_.awaiting_response());
  EXPECT_THAT(checks_, ElementsAre(Pair("alice", "wrong")));
}

TEST_F(SaslServerTest, LoginWithAnEmptyUserNeverReachesTheAuthenticator) {
  // "=" as the initial response is an empty user name.
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", "=")), "challenge UGFzc3dvcmQ6");
  EXPECT_EQ(Describe(sasl_.Respond(Base64("secret"))), Failure(LocalReply::kAuthInvalid));
  // And an empty response to the challenge.
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", std::nullopt)), "challenge VXNlcm5hbWU6");
  EXPECT_EQ(Describe(sasl_.Respond("")), "challenge UGFzc3dvcmQ6");
  EXPECT_EQ(Describe(sasl_.Respond(Base64("secret"))), Failure(LocalReply::kAuthInvalid));
  EXPECT_THAT(checks_, IsEmpty());
}

TEST_F(SaslServerTest, StarCancels) {
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", "*")), Failure(LocalReply::kAuthAborted));
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", std::nullopt)), "challenge ");
  EXPECT_EQ(Describe(sasl_.Respond("*")), Failure(LocalReply::kAuthAborted));
  EXPECT_FALSE(sasl_.awaiting_response());
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", Base64("alice"))), "challenge UGFzc3dvcmQ6");
  EXPECT_EQ(Describe(sasl_.Respond("*")), Failure(LocalReply::kAuthAborted));
  EXPECT_FALSE(sasl_.awaiting_response());
  EXPECT_THAT(checks_, IsEmpty());
}

TEST_F(SaslServerTest, ResponsesMustBePaddedBase64) {
  for (const char* bad : {"not*base64", "YWxpY2U", "YWxp Y2U=", "YWx Y2U=", "YW=pY2U=", "====",
                          "YWxpY2U=\t", "YWxpY2U==", "**"}) {
    EXPECT_EQ(Describe(sasl_.Start("LOGIN", std::nullopt)), "challenge VXNlcm5hbWU6");
    EXPECT_EQ(Describe(sasl_.Respond(bad)), Failure(LocalReply::kAuthBadBase64)) << bad;
    EXPECT_FALSE(sasl_.awaiting_response()) << bad;
  }
  // Padding of one and two "=" is fine.
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", Base64("alice"))), "challenge UGFzc3dvcmQ6");
  EXPECT_EQ(Base64("alice"), "YWxpY2U=");
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", Base64("alic"))), "challenge UGFzc3dvcmQ6");
  EXPECT_EQ(Base64("alic"), "YWxpYw==");
}

TEST_F(SaslServerTest, OtherMechanismsGet504) {
  for (const char* mechanism : {"CRAM-MD5", "XOAUTH2", "PLAINX", ""}) {
    EXPECT_EQ(Describe(sasl_.Start(mechanism, std::nullopt)), Failure(LocalReply::kAuthMechanism))
        << mechanism;
    EXPECT_FALSE(sasl_.awaiting_response());
  }
  // Even with an initial response that would have been good.
  EXPECT_EQ(Describe(sasl_.Start("SCRAM-SHA-1", Plain("", "alice", "secret"))),
            Failure(LocalReply::kAuthMechanism));
  EXPECT_THAT(checks_, IsEmpty());
}

TEST_F(SaslServerTest, StartAbandonsAnExchangeUnderWay) {
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", Base64("bob"))), "challenge UGFzc3dvcmQ6");
  // A new exchange asks for the user again rather than taking bob's.
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", std::nullopt)), "challenge VXNlcm5hbWU6");
  EXPECT_EQ(Describe(sasl_.Respond(Base64("alice"))), "challenge UGFzc3dvcmQ6");
  EXPECT_EQ(Describe(sasl_.Respond(Base64("secret"))), "success alice");
  EXPECT_THAT(checks_, ElementsAre(Pair("alice", "secret")));
}

TEST_F(SaslServerTest, ResetForgetsTheUser) {
  EXPECT_EQ(Describe(sasl_.Start("LOGIN", Base64("alice"))), "challenge UGFzc3dvcmQ6");
  sasl_.Reset();
  EXPECT_FALSE(sasl_.awaiting_response());
  // The next exchange starts from the beginning.
  EXPECT_EQ(Describe(sasl_.Start("PLAIN", std::nullopt)), "challenge ");
  EXPECT_EQ(Describe(sasl_.Respond(Plain("", "alice", "secret"))), "success alice");
}

}  // namespace
}  // namespace volley::smtp
