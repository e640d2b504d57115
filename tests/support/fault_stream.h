// The test sink's faults that live below the SMTP session: every write held back for a while
// (to trigger a client's timeouts), and a STARTTLS that answers 220 and then sends bytes that
// are no TLS (to fail a client's handshake).
#ifndef VOLLEY_TESTS_SUPPORT_FAULT_STREAM_H_
#define VOLLEY_TESTS_SUPPORT_FAULT_STREAM_H_

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "engine/net/stream.h"

namespace volley::test_support {

struct StreamFaults {
  // Every write (greeting, replies, TLS records) goes out this long after it was made, in
  // order.
  absl::Duration write_delay = absl::ZeroDuration();
  // When set, the delay in microseconds instead, read at every write (a test changes it while
  // the sink runs: a receiver that slows down and recovers).
  std::shared_ptr<const std::atomic<int64_t>> write_delay_us;
  absl::Duration Delay() const {
    return write_delay_us != nullptr ? absl::Microseconds(write_delay_us->load()) : write_delay;
  }
  // After the client's STARTTLS, the session's 220 goes out, then this text instead of a TLS
  // handshake, then the connection ends.
  bool break_starttls = false;
  // Set when the sink stops: a Shutdown then drops the connection at once, with whatever
  // writes are still held back (the sink promises to drop open connections when it stops).
  std::shared_ptr<const std::atomic<bool>> dropping;
};

// Wraps one accepted connection (inject::SmtpListenerOptions::wrap_stream). All calls on the
// loop's thread.
class FaultStream final : public net::Stream {
 public:
  // What is sent instead of a ServerHello: no TLS record type starts with 'T'.
  static constexpr absl::string_view kNotTls = "This is not TLS, as the test asked.\r\n";

  FaultStream(uv_loop_t* loop, std::unique_ptr<net::Stream> inner, StreamFaults faults);
  ~FaultStream() override;

  void SetCallbacks(net::StreamCallbacks callbacks) override;
  absl::Status StartReading() override;
  void StopReading() override;
  void Write(std::string bytes) override;
  void Shutdown(absl::Duration linger) override;
  void Close() override;
  bool closed() const override;
  const std::string& peer_address() const override;
  const std::string& local_address() const override;

 private:
  // Outlives the FaultStream while delayed writes wait after a Shutdown: a connection's last
  // reply must still go out, and the owner lets go of its stream as soon as it shuts it down.
  struct State;
  State* state_;
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_FAULT_STREAM_H_
