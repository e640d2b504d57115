#include "engine/bounce/unsubscribe_token.h"

#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "engine/base/logging.h"
#include "queue/encoding.h"

namespace volley::bounce {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kMacLength = 16;
// The version octet, one-octet varints for the expiry and the two lengths, and the MAC.
constexpr size_t kMinDecodedLength = 4 + kMacLength;

absl::Status Malformed() { return absl::InvalidArgumentError("malformed token"); }

// The first kMacLength octets of HMAC-SHA256(key, data).
std::string Mac(absl::string_view key, absl::string_view data) {
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), key.size(), reinterpret_cast<const uint8_t*>(data.data()),
       data.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), kMacLength);
}

}  // namespace

UnsubscribeTokens::UnsubscribeTokens(std::string key) : key_(std::move(key)) {
  // A short key is a configuration mistake that would make tokens guessable, not something to
  // run with: whoever reads a configured key checks it against kMinUnsubscribeKeyLength first.
  CHECK(key_.size() >= kMinUnsubscribeKeyLength)
      << "the unsubscribe key has " << key_.size() << " octets";
}

std::string UnsubscribeTokens::Make(const UnsubscribeClaim& claim) const {
  std::string data;
  // The version, the expiry (5 octets until 2106), the two lengths (2 octets up to 16 KB).
  data.reserve(1 + 5 + 2 * 2 + claim.tenant.size() + claim.campaign.size() +
               claim.recipient.size() + kMacLength);
  data.push_back(static_cast<char>(kVersion));
  // ToUnixSeconds rounds towards the past and saturates at the infinities.
  queue::PutVarint64(
      &data, static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixSeconds(claim.expires))));
  queue::PutLengthPrefixed(&data, claim.tenant);
  queue::PutLengthPrefixed(&data, claim.campaign);
  data.append(claim.recipient);
  data.append(Mac(key_, data));
  return absl::WebSafeBase64Escape(data);
}

absl::StatusOr<UnsubscribeClaim> UnsubscribeTokens::Verify(absl::string_view token,
                                                           absl::Time now) const {
  if (token.size() > kMaxUnsubscribeTokenLength) return Malformed();
  std::string data;
  // Abseil also accepts padding and ignores stray low bits of the last character; only the form
  // Make writes is taken, so that each claim has exactly one token.
  if (!absl::WebSafeBase64Unescape(token, &data) || absl::WebSafeBase64Escape(data) != token) {
    return Malformed();
  }
  if (data.size() < kMinDecodedLength || static_cast<uint8_t>(data[0]) != kVersion) {
    return Malformed();
  }
  const absl::string_view signed_part = absl::string_view(data).substr(0, data.size() - kMacLength);
  const std::string expected = Mac(key_, signed_part);
  // Constant time, so that the time a refusal takes does not tell how much of a guessed MAC
  // was right.
  if (CRYPTO_memcmp(expected.data(), data.data() + signed_part.size(), kMacLength) != 0) {
    return absl::PermissionDeniedError("forged token");
  }
  // Only Make writes what passes the MAC, so the checks below never fail in practice; they
  // keep the parser safe should a key ever leak.
  absl::string_view in = signed_part.substr(1);
  uint64_t expires = 0;
  UnsubscribeClaim claim;
  if (!queue::GetVarint64(&in, &expires) ||
      expires > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      !queue::GetLengthPrefixed(&in, &claim.tenant) ||
      !queue::GetLengthPrefixed(&in, &claim.campaign)) {
    return Malformed();
  }
  claim.recipient = std::string(in);
  claim.expires = absl::FromUnixSeconds(static_cast<int64_t>(expires));
  if (!(now < claim.expires)) return absl::DeadlineExceededError("expired token");
  return claim;
}

std::string NewUnsubscribeKey() {
  std::string key(32, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(key.data()), key.size());
  return key;
}

}  // namespace volley::bounce
