#include "engine/inject/credential_checker.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace volley::inject {

CredentialChecker::CredentialChecker(WorkerPool* pool, std::shared_ptr<const UserTable> users,
                                     std::function<absl::Time()> now)
    : pool_(pool), now_(std::move(now)), users_(std::move(users)) {}

void CredentialChecker::Replace(std::shared_ptr<const UserTable> users) {
  std::lock_guard<std::mutex> lock(mutex_);
  users_ = std::move(users);
}

absl::Duration CredentialChecker::FailureDelay(int failures) {
  if (failures <= 0) return absl::ZeroDuration();
  const int doublings = std::min(failures - 1, 6);  // 250 ms << 6 = 16 s
  return absl::Milliseconds(250) * (1 << doublings);
}

void CredentialChecker::Check(std::string peer_address, std::string user, std::string password,
                              absl::AnyInvocable<void(Verdict) &&> done) {
  std::shared_ptr<const UserTable> users;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    users = users_;
  }
  pool_->Run([this, users = std::move(users), peer = std::move(peer_address),
              user = std::move(user), password = std::move(password),
              done = std::move(done)]() mutable {
    Verdict verdict;
    verdict.ok = users != nullptr && users->Check(user, password);
    verdict.delay = Record(peer, verdict.ok);
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
