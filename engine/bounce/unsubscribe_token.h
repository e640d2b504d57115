// RFC 8058 one-click unsubscribe: the token in a message's List-Unsubscribe URL
// (https://<host>/unsubscribe/<token>, with List-Unsubscribe-Post: List-Unsubscribe=One-Click),
// which names the recipient, tenant and campaign to unsubscribe. The mailbox provider POSTs to
// the URL without cookies or a session, so the token must carry the whole claim and prove by
// itself that Volley wrote it: it is the claim, a MAC and nothing else, and Volley needs no
// table of issued tokens.
//
// The token is base64url without padding (only [A-Za-z0-9_-], safe in a URL path without
// escaping) of
//
//   version (1 octet, 1) | expires (varint, Unix seconds) | tenant (varint length, octets)
//   | campaign (varint length, octets) | recipient (the rest) | MAC (16 octets)
//
// where the MAC is HMAC-SHA256(key, everything before it) truncated to 16 octets (128 bits,
// as RFC 2104 section 5 allows). Compact, because the URL goes into a header line of every
// message. Deterministic: the same claim and key always give the same token, so a resend
// carries the same URL. Pure, any thread.
#ifndef VOLLEY_ENGINE_BOUNCE_UNSUBSCRIBE_TOKEN_H_
#define VOLLEY_ENGINE_BOUNCE_UNSUBSCRIBE_TOKEN_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::bounce {

// Shorter keys are refused (the constructor CHECKs): validate configured keys against this.
inline constexpr size_t kMinUnsubscribeKeyLength = 16;
// Verify refuses longer tokens before decoding them. A claim of a 254-octet recipient (RFC
// 5321's longest path) with tenant and campaign names of a few hundred octets fits many times
// over; a longer claim makes a token that Verify refuses.
inline constexpr size_t kMaxUnsubscribeTokenLength = 2048;

struct UnsubscribeClaim {
  std::string recipient;  // as given (the verifier lower-cases nothing; the caller does)
  std::string tenant;     // "" = none
  std::string campaign;   // "" = none
  // The token is valid before this instant. Whole seconds: Make rounds down (towards the past,
  // so a token never outlives its claim); times before 1970 give a token that has expired
  // (1970), never a wrapped-around far future.
  absl::Time expires;
};

class UnsubscribeTokens {
 public:
  // `key`: the HMAC-SHA256 key, at least kMinUnsubscribeKeyLength octets (NewUnsubscribeKey).
  explicit UnsubscribeTokens(std::string key);

  // The token for `claim`.
  std::string Make(const UnsubscribeClaim& claim) const;

  // The claim `token` carries, when it is one Make wrote with this key and `now` < expires.
  // kInvalidArgument "malformed token": longer than kMaxUnsubscribeTokenLength, not canonical
  // base64url (padding, other characters, stray bits), too short, or of an unknown version;
  // kPermissionDenied "forged token": the MAC does not match (another key, or altered);
  // kDeadlineExceeded "expired token".
  absl::StatusOr<UnsubscribeClaim> Verify(absl::string_view token, absl::Time now) const;

 private:
  std::string key_;
};

// 32 random octets (BoringSSL's RAND_bytes), like NewVerpKey.
std::string NewUnsubscribeKey();

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_UNSUBSCRIBE_TOKEN_H_
