#include "engine/bounce/unsubscribe_token.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

const absl::Time kExpires = absl::FromUnixSeconds(1900000000);
const absl::Time kBefore = kExpires - absl::Hours(24);

const UnsubscribeTokens& Tokens() {
  static const UnsubscribeTokens* tokens =
      new UnsubscribeTokens("a test key of more than 16 octets");
  return *tokens;
}

UnsubscribeClaim Claim() {
  return UnsubscribeClaim{"John.Smith@Example.com", "acme", "spring-sale", kExpires};
}

void ExpectSameClaim(const UnsubscribeClaim& got, const UnsubscribeClaim& want) {
  EXPECT_EQ(got.recipient, want.recipient);
  EXPECT_EQ(got.tenant, want.tenant);
  EXPECT_EQ(got.campaign, want.campaign);
  EXPECT_EQ(got.expires, want.expires);
}

// Refused as altered: either no longer a token at all, or one whose MAC does not match.
void ExpectRefused(absl::string_view token, absl::string_view what) {
  absl::StatusOr<UnsubscribeClaim> got = Tokens().Verify(token, kBefore);
  ASSERT_FALSE(got.ok()) << what << ": " << token << " was accepted for " << got->recipient;
  EXPECT_TRUE(absl::IsInvalidArgument(got.status()) || absl::IsPermissionDenied(got.status()))
      << what << ": " << got.status();
}

TEST(UnsubscribeToken, RoundTrips) {
  const std::string token = Tokens().Make(Claim());
  absl::StatusOr<UnsubscribeClaim> got = Tokens().Verify(token, kBefore);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameClaim(*got, Claim());
}

TEST(UnsubscribeToken, IsDeterministicAndCompact) {
  const std::string token = Tokens().Make(Claim());
  EXPECT_EQ(Tokens().Make(Claim()), token);
  // 1 + 5 + 1 + 4 + 1 + 11 + 22 + 16 = 61 octets: 82 characters.
  EXPECT_EQ(token.size(), 82u) << token;
  UnsubscribeClaim other = Claim();
  other.recipient = "john.smith@example.com";
  EXPECT_NE(Tokens().Make(other), token);
}

TEST(UnsubscribeToken, UsesOnlyUrlPathSafeCharacters) {
  // Many claims, so that every value of the last character's bits turns up.
  for (int i = 0; i < 200; ++i) {
    UnsubscribeClaim claim = Claim();
    claim.recipient = absl::StrCat("user", i, "@example.com");
    claim.campaign = std::string(i % 7, '~');
    const std::string token = Tokens().Make(claim);
    for (char c : token) {
      EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
          << token;
    }
    ASSERT_TRUE(Tokens().Verify(token, kBefore).ok()) << token;
  }
}

TEST(UnsubscribeToken, EmptyTenantAndCampaign) {
  const UnsubscribeClaim claim{"someone@example.org", "", "", kExpires};
  absl::StatusOr<UnsubscribeClaim> got = Tokens().Verify(Tokens().Make(claim), kBefore);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameClaim(*got, claim);
}

TEST(UnsubscribeToken, FieldBoundariesAreKept) {
  // Length prefixes: the same octets split differently are different claims.
  const UnsubscribeClaim a{"x@example.org", "ab", "", kExpires};
  const UnsubscribeClaim b{"x@example.org", "a", "b", kExpires};
  const UnsubscribeClaim c{"bx@example.org", "a", "", kExpires};
  for (const UnsubscribeClaim& claim : {a, b, c}) {
    absl::StatusOr<UnsubscribeClaim> got = Tokens().Verify(Tokens().Make(claim), kBefore);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSameClaim(*got, claim);
  }
  EXPECT_NE(Tokens().Make(a), Tokens().Make(b));
  EXPECT_NE(Tokens().Make(b), Tokens().Make(c));
}

TEST(UnsubscribeToken, LongNonAsciiRecipient) {
  // UTF-8 local part (RFC 6531), 254 octets in all: the longest forward path of RFC 5321.
  std::string local;
  while (local.size() < 240) local += "j\xC3\xB6rg.";
  UnsubscribeClaim claim = Claim();
  claim.recipient = absl::StrCat(local, "@b\xC3\xBC", "cher.example");
  claim.recipient = claim.recipient.substr(claim.recipient.size() - 254);
  ASSERT_EQ(claim.recipient.size(), 254u);
  const std::string token = Tokens().Make(claim);
  EXPECT_LE(token.size(), kMaxUnsubscribeTokenLength);
  absl::StatusOr<UnsubscribeClaim> got = Tokens().Verify(token, kBefore);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameClaim(*got, claim);
}

TEST(UnsubscribeToken, ExpiresAtTheInstant) {
  const std::string token = Tokens().Make(Claim());
  EXPECT_TRUE(Tokens().Verify(token, kExpires - absl::Nanoseconds(1)).ok());
  EXPECT_EQ(Tokens().Verify(token, kExpires).status(),
            absl::DeadlineExceededError("expired token"));
  EXPECT_TRUE(
      absl::IsDeadlineExceeded(Tokens().Verify(token, kExpires + absl::Hours(24 * 365)).status()));
}

TEST(UnsubscribeToken, ExpiryIsRoundedDownToWholeSeconds) {
  UnsubscribeClaim claim = Claim();
  claim.expires = kExpires + absl::Milliseconds(999);
  const std::string token = Tokens().Make(claim);
  EXPECT_EQ(token, Tokens().Make(Claim()));
  EXPECT_TRUE(absl::IsDeadlineExceeded(Tokens().Verify(token, kExpires).status()));
  // Before 1970: expired, never a wrapped-around far future.
  claim.expires = absl::FromUnixSeconds(-5);
  EXPECT_TRUE(absl::IsDeadlineExceeded(Tokens().Verify(Tokens().Make(claim), kBefore).status()));
  claim.expires = absl::InfiniteFuture();
  EXPECT_TRUE(Tokens().Verify(Tokens().Make(claim), kExpires + absl::Hours(1e6)).ok());
}

TEST(UnsubscribeToken, AnotherKeyMeansForged) {
  const UnsubscribeTokens other("another key, also of 16+ octets");
  EXPECT_EQ(other.Verify(Tokens().Make(Claim()), kBefore).status(),
            absl::PermissionDeniedError("forged token"));
}

TEST(UnsubscribeToken, AFlippedBitInTheTextIsNeverAccepted) {
  const std::string token = Tokens().Make(Claim());
  for (size_t i = 0; i < token.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string altered = token;
      altered[i] = static_cast<char>(altered[i] ^ (1 << bit));
      ExpectRefused(altered, absl::StrCat("character ", i, " bit ", bit));
    }
  }
}

TEST(UnsubscribeToken, AFlippedBitInTheContentIsForged) {
  // Well-formed base64url of altered octets: only the MAC can tell.
  const std::string token = Tokens().Make(Claim());
  std::string data;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &data));
  for (size_t i = 1; i < data.size(); ++i) {  // octet 0, the version, is below
    for (int bit = 0; bit < 8; ++bit) {
      std::string altered = data;
      altered[i] = static_cast<char>(altered[i] ^ (1 << bit));
      EXPECT_EQ(Tokens().Verify(absl::WebSafeBase64Escape(altered), kBefore).status(),
                absl::PermissionDeniedError("forged token"))
          << "octet " << i << " bit " << bit;
    }
  }
}

TEST(UnsubscribeToken, UnknownVersionIsMalformed) {
  std::string data;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(Tokens().Make(Claim()), &data));
  for (int version : {0, 2, 0x81, 0xff}) {
    data[0] = static_cast<char>(version);
    EXPECT_EQ(Tokens().Verify(absl::WebSafeBase64Escape(data), kBefore).status(),
              absl::InvalidArgumentError("malformed token"))
        << version;
  }
}

TEST(UnsubscribeToken, EveryTruncationIsRefused) {
  const std::string token = Tokens().Make(Claim());
  for (size_t length = 0; length < token.size(); ++length) {
    ExpectRefused(token.substr(0, length), absl::StrCat("first ", length));
    ExpectRefused(token.substr(token.size() - length), absl::StrCat("last ", length));
  }
  EXPECT_EQ(Tokens().Verify("", kBefore).status(), absl::InvalidArgumentError("malformed token"));
}

TEST(UnsubscribeToken, OnlyTheCanonicalFormIsTaken) {
  // A token whose octet count leaves padding (61 octets: 2 characters short of a quantum).
  const std::string token = Tokens().Make(Claim());
  ASSERT_EQ(token.size() % 4, 2u);
  for (const std::string& variant :
       {absl::StrCat(token, "=="), absl::StrCat(token, "="), absl::StrCat(" ", token),
        absl::StrCat(token, "\n"), absl::StrCat(token.substr(0, 10), "+", token.substr(11)),
        absl::StrCat(token.substr(0, 10), "/", token.substr(11))}) {
    EXPECT_EQ(Tokens().Verify(variant, kBefore).status(),
              absl::InvalidArgumentError("malformed token"))
        << variant;
  }
  // Canonical, but of a claim with one more octet: the MAC does not match.
  ExpectRefused(absl::StrCat(token, "A"), "one more character");
}

TEST(UnsubscribeToken, OversizedTokensAreMalformed) {
  EXPECT_EQ(Tokens().Verify(std::string(kMaxUnsubscribeTokenLength + 1, 'A'), kBefore).status(),
            absl::InvalidArgumentError("malformed token"));
  UnsubscribeClaim claim = Claim();
  claim.recipient = std::string(1600, 'r');
  const std::string token = Tokens().Make(claim);
  ASSERT_GT(token.size(), kMaxUnsubscribeTokenLength);
  EXPECT_EQ(Tokens().Verify(token, kBefore).status(),
            absl::InvalidArgumentError("malformed token"));
}

TEST(UnsubscribeToken, NewKeysAreRandom) {
  const std::string a = NewUnsubscribeKey();
  const std::string b = NewUnsubscribeKey();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  const UnsubscribeTokens tokens(a);
  EXPECT_TRUE(tokens.Verify(tokens.Make(Claim()), kBefore).ok());
}

TEST(UnsubscribeTokenDeathTest, ShortKeysAreRefused) {
  EXPECT_DEATH(UnsubscribeTokens("fifteen octets."), "unsubscribe key");
}

}  // namespace
}  // namespace volley::bounce
