#include "dns/fake_resolver.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/base/logging.h"

namespace volley::dns {
namespace {

MxResult TemporaryFailure(std::string error) {
  MxResult result;
  result.outcome = MxOutcome::kTemporaryFailure;
  result.error = std::move(error);
  result.expires = absl::InfinitePast();
  return result;
}

}  // namespace

struct FakeResolver::IdleBox {
  union {
    uv_handle_t handle;
    uv_idle_t idle;
  };
  FakeResolver* owner = nullptr;  // null once the fake is gone
};

FakeResolver::FakeResolver(uv_loop_t* loop) : idle_(new IdleBox) {
  idle_->owner = this;
  idle_->handle.data = idle_;
  // Test-only code without a factory: a loop that cannot take an idle handle
  // leaves the test nothing to run.
  const int rc = uv_idle_init(loop, &idle_->idle);
  CHECK(rc == 0) << "uv_idle_init: " << uv_strerror(rc);
}

FakeResolver::~FakeResolver() {
  if (idle_ == nullptr) return;
  idle_->owner = nullptr;
  if (!uv_is_closing(&idle_->handle)) {
    uv_close(&idle_->handle, [](uv_handle_t* h) { delete static_cast<IdleBox*>(h->data); });
  }
}

void FakeResolver::SetAnswer(absl::string_view domain, MxResult result) {
  answers_[absl::AsciiStrToLower(domain)] = std::move(result);
}

void FakeResolver::SetHostAnswer(absl::string_view host, MxResult result) {
  host_answers_[absl::AsciiStrToLower(host)] = std::move(result);
}

void FakeResolver::SetHosts(absl::string_view domain, std::vector<MxHost> hosts) {
  std::vector<absl::string_view> names;
  for (const MxHost& host : hosts) names.push_back(host.name);
  std::sort(names.begin(), names.end());
  MxResult result;
  result.outcome = MxOutcome::kOk;
  result.site_name = absl::StrJoin(names, ",");
  result.hosts = std::move(hosts);
  result.expires = absl::InfiniteFuture();
  SetAnswer(domain, std::move(result));
}

int FakeResolver::requests(absl::string_view name) const {
  auto it = requests_.find(absl::AsciiStrToLower(name));
  return it == requests_.end() ? 0 : it->second;
}

void FakeResolver::Hold() { held_ = true; }

void FakeResolver::Release() {
  held_ = false;
  if (!pending_.empty()) Wake();
}

void FakeResolver::Resolve(absl::string_view domain, Callback callback) {
  Answer(answers_, domain, std::move(callback));
}

void FakeResolver::ResolveHost(absl::string_view host, Callback callback) {
  Answer(host_answers_, host, std::move(callback));
}

void FakeResolver::Answer(const absl::flat_hash_map<std::string, MxResult>& answers,
                          absl::string_view name, Callback callback) {
  std::string key = absl::AsciiStrToLower(name);
  ++requests_[key];
  if (idle_ == nullptr || uv_is_closing(&idle_->handle)) {
    LOG(ERROR) << "FakeResolver used after shutdown; dropping a callback";
    return;
  }
  MxResult result;
  if (shutting_down_) {
    result = TemporaryFailure("shutting down");
  } else if (auto it = answers.find(key); it != answers.end()) {
    result = it->second;
  } else {
    result = TemporaryFailure(absl::StrCat("no fake answer for ", key));
  }
  pending_.push_back(Request{std::move(callback), std::move(result)});
  Wake();
}

void FakeResolver::Wake() {
  if (held_ || idle_ == nullptr || uv_is_active(&idle_->handle)) return;
  const int rc = uv_idle_start(&idle_->idle, [](uv_idle_t* handle) {
    FakeResolver* owner = static_cast<IdleBox*>(handle->data)->owner;
    if (owner != nullptr) owner->Deliver();
  });
  if (rc != 0) LOG(ERROR) << "uv_idle_start: " << uv_strerror(rc);
}

void FakeResolver::Deliver() {
  // What is posted while this runs waits for the next iteration, so that a
  // callback that asks again cannot keep this pass going.
  std::vector<Request> batch;
  if (!held_) batch.swap(pending_);
  delivering_ = true;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (held_) {
      // A callback called Hold: keep the rest, in order, ahead of newer ones.
      pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin() + i),
                      std::make_move_iterator(batch.end()));
      break;
    }
    // A callback called Shutdown: the rest is outstanding, so it shuts down.
    if (shutting_down_) batch[i].result = TemporaryFailure("shutting down");
    batch[i].callback(batch[i].result);
  }
  delivering_ = false;
  if (!pending_.empty() && !held_) return;
  if (const int rc = uv_idle_stop(&idle_->idle); rc != 0) {
    LOG(ERROR) << "uv_idle_stop: " << uv_strerror(rc);
  }
  if (shutting_down_ && pending_.empty()) CloseHandle();
}

void FakeResolver::Shutdown(absl::AnyInvocable<void()> done) {
  if (shutting_down_) {
    LOG(ERROR) << "FakeResolver::Shutdown called twice";
    return;
  }
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  held_ = false;
  for (Request& request : pending_) request.result = TemporaryFailure("shutting down");
  if (!pending_.empty()) {
    Wake();
  } else if (!delivering_) {
    CloseHandle();  // otherwise Deliver closes it when the pass ends
  }
}

void FakeResolver::CloseHandle() {
  if (idle_ == nullptr || uv_is_closing(&idle_->handle)) return;
  uv_close(&idle_->handle, [](uv_handle_t* h) {
    auto* box = static_cast<IdleBox*>(h->data);
    FakeResolver* owner = box->owner;
    delete box;
    if (owner == nullptr) return;
    owner->idle_ = nullptr;
    // `done` may destroy the fake: nothing may touch `owner` afterwards.
    auto done = std::move(owner->shutdown_done_);
    owner->shutdown_done_ = nullptr;
    if (done) done();
  });
}

}  // namespace volley::dns
