#include "engine/runtime/shard.h"

#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace volley {

Shard::Shard(int index) : index_(index) {}

Shard::~Shard() {
  if (thread_.joinable()) {
    LOG(ERROR) << "shard " << index_ << " destroyed while its thread runs";
    std::abort();
  }
}

absl::Status Shard::Start(absl::AnyInvocable<absl::Status()> init) {
  std::promise<absl::Status> started;
  std::future<absl::Status> started_future = started.get_future();
  thread_ = std::thread([this, &started, init = std::move(init)]() mutable {
    thread_id_.store(std::this_thread::get_id());
    int rc = uv_loop_init(&loop_);
    if (rc != 0) {
      started.set_value(absl::InternalError(absl::StrCat("uv_loop_init: ", uv_strerror(rc))));
      return;
    }
    absl::Status status = mailbox_.Init(&loop_);
    if (status.ok() && init) status = init();
    if (status.ok()) {
      started.set_value(absl::OkStatus());
    } else {
      mailbox_.Close();
    }
    // Runs until every handle is closed (the mailbox last): its result says nothing more.
    uv_run(&loop_, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop_);
    if (rc != 0) {
      loop_close_status_ = absl::FailedPreconditionError(absl::StrCat(
          "shard ", index_, ": loop closed with handles still open: ", uv_strerror(rc)));
      LOG(ERROR) << loop_close_status_.message();
    }
    if (!status.ok()) started.set_value(status);
  });
  absl::Status status = started_future.get();
  if (!status.ok()) thread_.join();
  return status;
}

bool Shard::Post(Task task) { return mailbox_.Post(std::move(task)); }

absl::Status Shard::Call(absl::AnyInvocable<absl::Status()> fn) {
  DCHECK(!InLoopThread());
  std::promise<absl::Status> result;
  std::future<absl::Status> future = result.get_future();
  if (!Post([&result, &fn] { result.set_value(fn()); })) {
    return absl::UnavailableError(absl::StrCat("shard ", index_, " has stopped"));
  }
  return future.get();
}

void Shard::CloseMailbox() {
  DCHECK(InLoopThread());
  mailbox_.Close();
}

void Shard::Join() {
  DCHECK(!InLoopThread());
  if (thread_.joinable()) thread_.join();
}

}  // namespace volley
