#include "engine/bounce/verp.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/bytes.h"
#include "queue/encoding.h"

namespace volley::bounce {
namespace {

constexpr absl::string_view kPrefix = "b-";
constexpr size_t kQueueIdLength = 16;
constexpr size_t kSignatureLength = 12;

bool Plain(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

void AppendEncoded(std::string* out, absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    if (Plain(c)) {
      out->push_back(c);
    } else {
      const auto octet = static_cast<unsigned char>(c);
      out->push_back('+');
      out->push_back(kHex[octet >> 4]);
      out->push_back(kHex[octet & 15]);
    }
  }
}

bool IsHex(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

VerpCodec::VerpCodec(std::string domain, std::string key)
    : domain_(absl::AsciiStrToLower(domain)), key_(std::move(key)) {}

std::string VerpCodec::Sign(absl::string_view queue_id, absl::string_view recipient) const {
  const std::string data = absl::StrCat(absl::AsciiStrToLower(queue_id), std::string(1, '\0'),
                                        absl::AsciiStrToLower(recipient));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), key_.size(), reinterpret_cast<const uint8_t*>(data.data()),
       data.size(), mac, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), length))
      .substr(0, kSignatureLength);
}

std::string VerpCodec::Encode(absl::string_view queue_id, absl::string_view recipient) const {
  std::string out = absl::StrCat(kPrefix, queue_id, "-");
  const size_t at = recipient.rfind('@');
  if (at == absl::string_view::npos) {
    AppendEncoded(&out, recipient);
  } else {
    AppendEncoded(&out, recipient.substr(0, at));
    out.push_back('=');
    AppendEncoded(&out, recipient.substr(at + 1));
  }
  absl::StrAppend(&out, "-", Sign(queue_id, recipient), "@", domain_);
  return out;
}

bool VerpCodec::IsVerpDomain(absl::string_view address) const {
  const size_t at = address.rfind('@');
  return at != absl::string_view::npos && absl::EqualsIgnoreCase(address.substr(at + 1), domain_);
}

absl::StatusOr<VerpAddress> VerpCodec::Decode(absl::string_view address) const {
  if (!IsVerpDomain(address)) return absl::NotFoundError("not at the bounce domain");
  absl::string_view local = address.substr(0, address.rfind('@'));
  const size_t minimum = kPrefix.size() + kQueueIdLength + 1 + 1 + kSignatureLength;
  if (local.size() <= minimum || !absl::StartsWithIgnoreCase(local, kPrefix) ||
      local[kPrefix.size() + kQueueIdLength] != '-' ||
      local[local.size() - kSignatureLength - 1] != '-') {
    return absl::NotFoundError("not a VERP address");
  }
  const absl::string_view queue_id = local.substr(kPrefix.size(), kQueueIdLength);
  const absl::string_view signature = local.substr(local.size() - kSignatureLength);
  const absl::string_view encoded =
      local.substr(kPrefix.size() + kQueueIdLength + 1, local.size() - minimum);
  if (!queue::ParseQueueId(absl::AsciiStrToLower(queue_id)).has_value() || !IsHex(signature)) {
    return absl::NotFoundError("not a VERP address");
  }
  std::string recipient;
  const size_t equals = encoded.rfind('=');
  std::optional<std::string> local_part =
      DecodeHexEscapes(equals == absl::string_view::npos ? encoded : encoded.substr(0, equals));
  if (!local_part.has_value()) return absl::NotFoundError("not a VERP address");
  recipient = *std::move(local_part);
  if (equals != absl::string_view::npos) {
    std::optional<std::string> domain = DecodeHexEscapes(encoded.substr(equals + 1));
    if (!domain.has_value()) return absl::NotFoundError("not a VERP address");
    absl::StrAppend(&recipient, "@", *domain);
  }
  if (!absl::EqualsIgnoreCase(Sign(queue_id, recipient), signature)) {
    return absl::PermissionDeniedError("the VERP signature does not match");
  }
  return VerpAddress{absl::AsciiStrToLower(queue_id), std::move(recipient)};
}

std::string NewVerpKey() {
  std::string key(32, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(key.data()), key.size());
  return key;
}

}  // namespace volley::bounce
