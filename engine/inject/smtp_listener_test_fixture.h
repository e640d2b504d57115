// The fixture of the SmtpListener tests (engine/inject/smtp_listener_*_test.cc): a loop on its
// own thread, a handler that records what the sessions hand it, and listeners created and
// closed on that loop.
#ifndef VOLLEY_ENGINE_INJECT_SMTP_LISTENER_TEST_FIXTURE_H_
#define VOLLEY_ENGINE_INJECT_SMTP_LISTENER_TEST_FIXTURE_H_

#include <uv.h>

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/inject/smtp_listener.h"
#include "engine/smtp/envelope.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/server_session.h"
#include "gtest/gtest.h"

namespace volley::inject {

// A uv loop on its own thread, with a way to run code on it.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, &OnAsync);
    async_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  ~LoopThread() {
    if (thread_.joinable()) StopAndJoin();
  }

  uv_loop_t* loop() { return &loop_; }

  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(fn));
    }
    uv_async_send(&async_);
  }

  // Runs `fn` on the loop thread and waits for its result.
  template <typename F>
  auto Call(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    Post([&task] { task(); });
    return result.get();
  }

  // Ends the loop (all other handles must be closed by then) and checks that it closes clean.
  void StopAndJoin() {
    Post([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
    thread_.join();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

 private:
  static void OnAsync(uv_async_t* async) {
    auto* self = static_cast<LoopThread*>(async->data);
    std::vector<std::function<void()>> work;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      work.swap(self->queue_);
    }
    for (auto& fn : work) fn();
  }

  uv_loop_t loop_;
  uv_async_t async_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
};

class RecordingHandler : public smtp::ServerSessionHandler {
 public:
  void OnCommandLine(const smtp::Envelope&, absl::string_view line) override {
    std::lock_guard<std::mutex> lock(mutex);
    lines.emplace_back(line);
  }

  std::optional<smtp::Reply> CheckRecipient(const smtp::Envelope&, absl::string_view) override {
    return std::nullopt;
  }

  void OnMessage(smtp::Envelope envelope, std::string content,
                 absl::AnyInvocable<void(smtp::MessageResponse)> done) override {
    std::lock_guard<std::mutex> lock(mutex);
    envelopes.push_back(envelope);
    contents.push_back(content);
    if (hold) {
      held.push_back(std::move(done));
      return;
    }
    done(smtp::MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as M", envelopes.size())));
  }

  std::mutex mutex;
  std::vector<std::string> lines;  // every command line, in order
  std::vector<smtp::Envelope> envelopes;
  std::vector<std::string> contents;
  bool hold = false;  // keep `done` (set before traffic starts)
  std::vector<absl::AnyInvocable<void(smtp::MessageResponse)>> held;
};

// Closes the listener on its loop and waits for `done`.
void CloseListener(LoopThread& loop, std::unique_ptr<SmtpListener>& listener,
                   absl::Duration grace = absl::Seconds(5));

// Creates a listener on `loop` (nullptr, and a test failure, when that fails).
std::unique_ptr<SmtpListener> CreateListener(LoopThread& loop, const SmtpListenerOptions& options,
                                             smtp::ServerSessionHandler* handler);

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_SMTP_LISTENER_TEST_FIXTURE_H_
