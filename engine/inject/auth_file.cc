#include "engine/inject/auth_file.h"

#include <crypt.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace volley::inject {
namespace {

// Whether `password` hashes to `hash` (a whole stored hash is also the setting: its method,
// cost and salt). False when libxcrypt refuses the setting.
bool Matches(const std::string& hash, absl::string_view password) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const std::string phrase(password);
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return false;
  // Constant-time comparison: the hashes are public-length strings.
  const size_t n = std::strlen(out);
  if (n != hash.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(out[i] ^ hash[i]);
  return diff == 0;
}

}  // namespace

absl::StatusOr<UserTable> UserTable::Parse(absl::string_view text, absl::string_view origin) {
  UserTable table;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ":", number, ": ", why));
    };
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return fail("expected user:hash");
    std::string user(line.substr(0, colon));
    std::string hash(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (user.empty()) return fail("empty user name");
    switch (crypt_checksalt(hash.c_str())) {
      case CRYPT_SALT_OK:
        break;
      case CRYPT_SALT_METHOD_LEGACY:
        return fail(absl::StrCat("the hash of ", user,
                                 " is a legacy format (DES or MD5 crypt): make a new one with "
                                 "mkpasswd -m yescrypt"));
      default:
        return fail(absl::StrCat("the hash of ", user,
                                 " is not a crypt(3) hash libxcrypt knows (mkpasswd writes them)"));
    }
    if (!table.hashes_.emplace(user, std::move(hash)).second) {
      return fail(absl::StrCat(user, " is listed twice"));
    }
  }
  // Unknown users are checked against one of the file's own hashes, same method and cost.
  if (!table.hashes_.empty()) table.dummy_hash_ = table.hashes_.begin()->second;
  return table;
}

absl::StatusOr<UserTable> UserTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the auth_file ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

bool UserTable::Check(absl::string_view user, absl::string_view password) const {
  auto it = hashes_.find(user);
  if (it == hashes_.end()) {
    if (!dummy_hash_.empty()) Matches(dummy_hash_, password);
    return false;
  }
  return Matches(it->second, password);
}

}  // namespace volley::inject
