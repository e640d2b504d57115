#include "engine/inject/credential_checker.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace volley::inject {

CredentialChecker::CredentialChecker(WorkerPool* pool, std::shared_ptr<const UserTable> users,
                                     std::function<absl::Time()> now)
    : pool_(pool), now_(std::move(now)), users_(std::move(users)), key_(32, '\0') {
  RAND_bytes(reinterpret_cast<uint8_t*>(key_.data()), key_.size());
}

void CredentialChecker::Replace(std::shared_ptr<const UserTable> users) {
  std::lock_guard<std::mutex> lock(mutex_);
  users_ = std::move(users);
  remembered_.clear();
}

std::string CredentialChecker::Digest(absl::string_view user, absl::string_view password) const {
  const std::string data = absl::StrCat(user, absl::string_view("\0", 1), password);
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), key_.size(), reinterpret_cast<const uint8_t*>(data.data()),
       data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

bool CredentialChecker::RememberedLocked(const std::string& user, const std::string& digest,
                                         absl::Time now) {
  auto it = remembered_.find(user);
  if (it == remembered_.end()) return false;
  if (now >= it->second.until) {
    remembered_.erase(it);
    return false;
  }
  if (digest.size() != it->second.digest.size()) return false;
  // Constant time over the digest.
  unsigned char diff = 0;
  for (size_t i = 0; i < digest.size(); ++i) {
    diff |= static_cast<unsigned char>(digest[i] ^ it->second.digest[i]);
  }
  return diff == 0;
}

absl::Duration CredentialChecker::FailureDelay(int failures) {
  if (failures <= 0) return absl::ZeroDuration();
  const int doublings = std::min(failures - 1, 6);  // 250 ms << 6 = 16 s
  return absl::Milliseconds(250) * (1 << doublings);
}

void CredentialChecker::Check(std::string peer_address, std::string user, std::string password,
                              absl::AnyInvocable<void(Verdict) &&> done) {
  std::shared_ptr<const UserTable> users;
  std::string digest = Digest(user, password);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    users = users_;
    if (RememberedLocked(user, digest, now_())) {
      failures_.erase(peer_address);
      std::move(done)(Verdict{true, absl::ZeroDuration()});
      return;
    }
  }
  pool_->Run([this, users = std::move(users), peer = std::move(peer_address),
              user = std::move(user), password = std::move(password), digest = std::move(digest),
              done = std::move(done)]() mutable {
    Verdict verdict;
    verdict.ok = users != nullptr && users->Check(user, password);
    verdict.delay = Record(peer, verdict.ok);
    if (verdict.ok) {
      std::lock_guard<std::mutex> lock(mutex_);
      // Only for the table that said yes: a reload meanwhile must not be undone.
      if (users == users_ &&
          (remembered_.size() < kRememberedUsers || remembered_.contains(user))) {
        remembered_[user] = Remembered{std::move(digest), now_() + kRememberFor};
      }
    }
    std::move(done)(verdict);
  });
}

absl::Duration CredentialChecker::Record(const std::string& peer, bool ok) {
  const absl::Time now = now_();
  std::lock_guard<std::mutex> lock(mutex_);
  // Now and then, forget the addresses that have stopped failing, so that the memory is
  // bounded by the addresses failing within kForgetAfter.
  if (++checks_ % 1024 == 0) {
    std::vector<std::string> stale;
    for (const auto& [address, failures] : failures_) {
      if (now - failures.last >= kForgetAfter) stale.push_back(address);
    }
    for (const std::string& address : stale) failures_.erase(address);
  }
  if (ok) {
    failures_.erase(peer);
    return absl::ZeroDuration();
  }
  Failures& failures = failures_[peer];
  if (failures.count > 0 && now - failures.last >= kForgetAfter) failures.count = 0;
  ++failures.count;
  failures.last = now;
  return FailureDelay(failures.count);
}

}  // namespace volley::inject
