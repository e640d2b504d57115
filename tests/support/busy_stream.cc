#include "tests/support/busy_stream.h"

#include <utility>

namespace volley::test_support {

BusyStream::BusyStream(std::unique_ptr<net::Stream> inner, std::shared_ptr<std::atomic<int>> live,
                       int max)
    : inner_(std::move(inner)), live_(std::move(live)) {
  refused_ = live_->fetch_add(1) >= max;
  if (refused_) live_->fetch_sub(1);
}

BusyStream::~BusyStream() { CountOff(); }

void BusyStream::CountOff() {
  // A session ends when it shuts its stream (after QUIT, say), not when the stream is freed:
  // a server counts connections by its sessions.
  if (refused_ || counted_off_) return;
  counted_off_ = true;
  live_->fetch_sub(1);
}

void BusyStream::SetCallbacks(net::StreamCallbacks callbacks) {
  if (!refused_) {
    inner_->SetCallbacks(std::move(callbacks));
    return;
  }
  // A refused connection reads nothing the client says; it only reports its end.
  inner_->SetCallbacks(net::StreamCallbacks{
      .on_data = [](absl::string_view) {},
      .on_end = std::move(callbacks.on_end),
  });
}

void BusyStream::Write(std::string bytes) {
  if (!refused_) {
    inner_->Write(std::move(bytes));
    return;
  }
  if (shut_) return;
  // The session's greeting is the first write: the refusal goes instead, and the connection
  // ends (RFC 5321 3.1).
  shut_ = true;
  inner_->Write(std::string(kRefusal));
  inner_->Shutdown(absl::Seconds(2));
}

void BusyStream::Shutdown(absl::Duration linger) {
  CountOff();
  if (shut_) return;
  shut_ = true;
  inner_->Shutdown(linger);
}

void BusyStream::Close() {
  CountOff();
  shut_ = true;
  if (!inner_->closed()) inner_->Close();
}

}  // namespace volley::test_support
