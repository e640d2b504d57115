#include "engine/inject/smtp_listener_test_fixture.h"

#include <future>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace volley::inject {

void CloseListener(LoopThread& loop, std::unique_ptr<SmtpListener>& listener,
                   absl::Duration grace) {
  std::promise<void> closed;
  loop.Post([&] { listener->Close(grace, [&closed] { closed.set_value(); }); });
  closed.get_future().wait();
  loop.Call([&] {
    listener.reset();
    return 0;
  });
}

std::unique_ptr<SmtpListener> CreateListener(LoopThread& loop, const SmtpListenerOptions& options,
                                             smtp::ServerSessionHandler* handler) {
  return loop.Call([&]() -> std::unique_ptr<SmtpListener> {
    absl::StatusOr<std::unique_ptr<SmtpListener>> listener =
        SmtpListener::Create(loop.loop(), options, handler);
    EXPECT_TRUE(listener.ok()) << listener.status();
    return listener.ok() ? std::move(*listener) : nullptr;
  });
}

}  // namespace volley::inject
