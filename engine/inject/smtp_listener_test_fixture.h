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
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/inject/smtp_listener.h"
#include "engine/runtime/shard.h"
#include "engine/smtp/envelope.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/server_session.h"
#include "gtest/gtest.h"

namespace volley::inject {

// A shard (a loop on its own thread) for the test, with a way to run code on it and get the
// result back.
class LoopThread {
 public:
  LoopThread() : shard_(0) { EXPECT_TRUE(shard_.Start().ok()); }
  ~LoopThread() {
    if (!joined_) StopAndJoin();
  }

  uv_loop_t* loop() { return shard_.loop(); }

  void Post(absl::AnyInvocable<void()> fn) { shard_.Post(std::move(fn)); }

  // Runs `fn` on the loop thread and waits for its result.
  template <typename F>
  auto Call(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    Post([&task] { task(); });
    return result.get();
  }

  // Ends the loop, which waits for connections that linger after their last reply, and checks
  // that nothing the test made left a handle open.
  void StopAndJoin() {
    Post([this] { shard_.CloseMailbox(); });
    shard_.Join();
    joined_ = true;
    EXPECT_TRUE(shard_.loop_close_status().ok()) << shard_.loop_close_status();
  }

 private:
  Shard shard_;
  bool joined_ = false;
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
