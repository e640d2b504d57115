#include "dns/result_queue.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace volley::dns {

struct ResultQueue::IdleBox {
  union {
    uv_handle_t handle;
    uv_idle_t idle;
  };
  ResultQueue* owner = nullptr;  // null once the queue is gone
};

absl::StatusOr<std::unique_ptr<ResultQueue>> ResultQueue::Create(uv_loop_t* loop) {
  auto* box = new IdleBox;
  if (const int rc = uv_idle_init(loop, &box->idle); rc != 0) {
    delete box;  // never initialised, so there is nothing to close
    return absl::UnavailableError(absl::StrCat("uv_idle_init: ", uv_strerror(rc)));
  }
  return std::unique_ptr<ResultQueue>(new ResultQueue(box));
}

ResultQueue::ResultQueue(IdleBox* idle) : idle_(idle) {
  idle_->owner = this;
  idle_->handle.data = idle_;
}

ResultQueue::~ResultQueue() {
  if (idle_ == nullptr) return;
  idle_->owner = nullptr;
  if (!uv_is_closing(&idle_->handle)) {
    uv_close(&idle_->handle, [](uv_handle_t* h) { delete static_cast<IdleBox*>(h->data); });
  }
}

void ResultQueue::Post(Resolver::Callback&& callback, std::shared_ptr<const MxResult> result) {
  if (idle_ == nullptr || uv_is_closing(&idle_->handle)) {
    LOG(ERROR) << "resolver used after shutdown; dropping a callback";
    return;
  }
  deliveries_.push_back(Delivery{std::move(callback), std::move(result)});
  if (uv_is_active(&idle_->handle)) return;
  const int rc = uv_idle_start(&idle_->idle, [](uv_idle_t* handle) {
    ResultQueue* owner = static_cast<IdleBox*>(handle->data)->owner;
    if (owner != nullptr) owner->Drain();
  });
  if (rc != 0) LOG(ERROR) << "uv_idle_start: " << uv_strerror(rc);
}

void ResultQueue::Drain() {
  // Callbacks may post more (a callback calling Resolve for a cached domain);
  // those run on the next loop iteration, so that one pass always ends.
  batch_.swap(deliveries_);
  draining_ = true;
  for (Delivery& d : batch_) d.callback(*d.result);
  draining_ = false;
  batch_.clear();
  if (!deliveries_.empty()) return;
  if (const int rc = uv_idle_stop(&idle_->idle); rc != 0) {
    LOG(ERROR) << "uv_idle_stop: " << uv_strerror(rc);
  }
  if (closing_) CloseHandle();
}

void ResultQueue::Close(absl::AnyInvocable<void()> done) {
  if (closing_) {
    LOG(ERROR) << "ResultQueue::Close called twice";
    return;
  }
  closing_ = true;
  closed_ = std::move(done);
  // Otherwise Drain closes the handle once the queue is empty (it may be on
  // the stack right now, if a callback is closing the resolver).
  if (deliveries_.empty() && !draining_) CloseHandle();
}

void ResultQueue::CloseHandle() {
  if (uv_is_closing(&idle_->handle)) return;
  uv_close(&idle_->handle, [](uv_handle_t* h) {
    auto* box = static_cast<IdleBox*>(h->data);
    ResultQueue* owner = box->owner;
    delete box;
    if (owner == nullptr) return;
    owner->idle_ = nullptr;
    // `closed_` may destroy the queue: nothing may touch `owner` afterwards.
    auto done = std::move(owner->closed_);
    owner->closed_ = nullptr;
    if (done) done();
  });
}

}  // namespace volley::dns
