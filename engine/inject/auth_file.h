// The SMTP AUTH users of a listener ([inject.smtp] auth_file): one "user:hash" a line, the hash
// in a crypt(3) format as mkpasswd writes it (yescrypt "$y$", SHA-512-crypt "$6$", bcrypt
// "$2b$", ...), verified by libxcrypt. Blank lines and lines starting with '#' are skipped.
#ifndef VOLLEY_ENGINE_INJECT_AUTH_FILE_H_
#define VOLLEY_ENGINE_INJECT_AUTH_FILE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::inject {

// Immutable once made, so any thread may Check (crypt_rn is reentrant).
class UserTable {
 public:
  // Refuses the whole file (naming the line) on a line without ':', an empty user, a user
  // listed twice, or a hash libxcrypt does not take or deems too weak to trust: the legacy DES
  // and MD5-based formats (a leaked file of those is cracked in hours).
  static absl::StatusOr<UserTable> Parse(absl::string_view text, absl::string_view origin);
  static absl::StatusOr<UserTable> Load(const std::string& path);

  // Whether `password` is `user`'s. Slow by design (the hash's cost): call it off the event
  // loops. An unknown user costs the same as a known one, so that timing does not tell which
  // users exist.
  bool Check(absl::string_view user, absl::string_view password) const;

  size_t size() const { return hashes_.size(); }

 private:
  absl::flat_hash_map<std::string, std::string> hashes_;
  std::string dummy_hash_;  // checked for unknown users
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_AUTH_FILE_H_
