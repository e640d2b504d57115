// The test sink's "too many connections": a connection beyond the sink's max_connections gets
// "421 4.7.0 Too many connections" instead of its greeting and ends, as busy receivers answer.
#ifndef VOLLEY_TESTS_SUPPORT_BUSY_STREAM_H_
#define VOLLEY_TESTS_SUPPORT_BUSY_STREAM_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/net/stream.h"

namespace volley::test_support {

// Wraps every accepted connection of a sink with a connection cap. `live` counts the sessions
// taken (shared by the sink's loops); a connection that finds `max` taken already is refused.
// All calls on the connection's loop.
class BusyStream final : public net::Stream {
 public:
  static constexpr absl::string_view kRefusal = "421 4.7.0 Too many connections\r\n";

  BusyStream(std::unique_ptr<net::Stream> inner, std::shared_ptr<std::atomic<int>> live, int max);
  ~BusyStream() override;  // a taken session is counted off (if Shutdown or Close did not)

  bool refused() const { return refused_; }

  void SetCallbacks(net::StreamCallbacks callbacks) override;
  absl::Status StartReading() override { return inner_->StartReading(); }
  void StopReading() override { inner_->StopReading(); }
  void Write(std::string bytes) override;
  void Shutdown(absl::Duration linger) override;
  void Close() override;
  bool closed() const override { return shut_ || inner_->closed(); }
  const std::string& peer_address() const override { return inner_->peer_address(); }
  const std::string& local_address() const override { return inner_->local_address(); }

 private:
  std::unique_ptr<net::Stream> inner_;
  std::shared_ptr<std::atomic<int>> live_;
  bool refused_ = false;
  bool shut_ = false;  // the refusal is out, or the session shut the stream
  bool counted_off_ = false;

  void CountOff();
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_BUSY_STREAM_H_
