#include "engine/runtime/mailbox.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace volley {

absl::Status Mailbox::Init(uv_loop_t* loop) {
  const int rc = uv_async_init(loop, &async_, &Mailbox::OnAsync);
  if (rc != 0) return absl::InternalError(absl::StrCat("uv_async_init: ", uv_strerror(rc)));
  async_.data = this;
  initialised_ = true;
  return absl::OkStatus();
}

bool Mailbox::Post(Task task) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return false;
    // Only the post that finds the queue empty needs to wake the loop: the ones after it are
    // picked up by the same drain.
    wake = queue_.empty();
    queue_.push_back(std::move(task));
  }
  // uv_async_send fails only for a handle that is not an async handle; ours is initialised
  // before any post can arrive.
  if (wake) {
    const int rc = uv_async_send(&async_);
    DCHECK(rc == 0) << "uv_async_send: " << uv_strerror(rc);
  }
  return true;
}

void Mailbox::Drain() {
  std::vector<Task> batch;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty()) return;
      batch.swap(queue_);
    }
    for (Task& task : batch) std::move(task)();
    batch.clear();
  }
}

void Mailbox::OnAsync(uv_async_t* handle) { static_cast<Mailbox*>(handle->data)->Drain(); }

void Mailbox::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  Drain();
  if (initialised_) uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  initialised_ = false;
}

size_t Mailbox::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

}  // namespace volley
