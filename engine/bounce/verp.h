// VERP (variable envelope return path): with `[bounce] verp_domain`, every message leaves with
// a return path of its own per recipient,
//
//   b-<queue id>-<recipient encoded>-<signature>@<verp_domain>
//
// so that a bounce arriving later, from any server in any form, names the message and the
// recipient it is about. The recipient "local@domain" is encoded as "local=domain" with every
// octet other than a letter, a digit, '.', '_' and '-' written "+XX" (lower-case hex; '=' and
// '+' included), which keeps the local part a dot-atom and makes the encoding reversible. The
// signature is the first 12 hex digits of HMAC-SHA256(key, lower(queue id) NUL lower(recipient)),
// so a bounce for an address Volley never sent from (a forged or mangled VERP address) is
// recognised; lower-cased, because some servers lower-case the return path. Pure, any thread.
#ifndef VOLLEY_ENGINE_BOUNCE_VERP_H_
#define VOLLEY_ENGINE_BOUNCE_VERP_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::bounce {

struct VerpAddress {
  std::string queue_id;   // 16 lower-case hex digits
  std::string recipient;  // as decoded (lower-cased if the server lower-cased it)
};

class VerpCodec {
 public:
  // `domain` is the bounce domain; `key` the HMAC key (any length, 32 random octets by default).
  VerpCodec(std::string domain, std::string key);

  const std::string& domain() const { return domain_; }

  // The return path for `recipient` of message `queue_id`.
  std::string Encode(absl::string_view queue_id, absl::string_view recipient) const;

  // Whether `address` is at the bounce domain (case-insensitive).
  bool IsVerpDomain(absl::string_view address) const;

  // The message and recipient `address` names. kNotFound: not a VERP address (another local
  // part, or another domain); kPermissionDenied: the form is right but the signature is not
  // (forged, or altered on the way).
  absl::StatusOr<VerpAddress> Decode(absl::string_view address) const;

 private:
  std::string Sign(absl::string_view queue_id, absl::string_view recipient) const;

  std::string domain_;  // lower-case
  std::string key_;
};

// 32 random octets (BoringSSL's RAND_bytes), for a key Volley keeps in its spool.
std::string NewVerpKey();

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_VERP_H_
