// The byte stream every protocol in Volley runs over: a TCP connection (TcpStream), or TLS over
// another stream (TlsStream).
#ifndef VOLLEY_ENGINE_NET_STREAM_H_
#define VOLLEY_ENGINE_NET_STREAM_H_

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::net {

struct StreamCallbacks {
  // Bytes received; the view is valid during the call only.
  absl::AnyInvocable<void(absl::string_view bytes)> on_data;
  // Nothing more will be received: the peer closed the connection (OK), or it failed (the
  // status says why, naming the call). Called at most once; the stream then waits for Close or
  // Shutdown.
  absl::AnyInvocable<void(const absl::Status& status)> on_end;
};

// A connected stream on one loop. Every call and callback happens on the loop's thread.
//
// Callbacks never run once Close or Shutdown has been called, or once the stream is destroyed.
// A stream may be destroyed (or replaced with SetCallbacks) from inside its own callbacks: the
// callbacks live with the libuv handle, which is freed only in its close callback.
class Stream {
 public:
  virtual ~Stream() = default;

  // Replaces the callbacks (a TLS layer taking a connection over after STARTTLS does this).
  virtual void SetCallbacks(StreamCallbacks callbacks) = 0;
  virtual absl::Status StartReading() = 0;
  // Backpressure: no on_data until StartReading again.
  virtual void StopReading() = 0;
  // Queues bytes for the peer; they go out in order. A failed write is reported by on_end.
  virtual void Write(std::string bytes) = 0;
  // Ends the connection politely: what is queued goes out, the write side is shut (after a TLS
  // close_notify), and input is read and thrown away until the peer closes or `linger` passes,
  // so that the kernel does not answer unread input with a reset that could destroy our last
  // reply before the peer read it.
  // Destroying the stream after Shutdown does not cut the linger short.
  virtual void Shutdown(absl::Duration linger) = 0;
  // Closes at once.
  virtual void Close() = 0;
  // Closed, or closing after Shutdown.
  virtual bool closed() const = 0;

  // Numeric IPs of the two ends ("" when unknown).
  virtual const std::string& peer_address() const = 0;
  virtual const std::string& local_address() const = 0;
};

}  // namespace volley::net

#endif  // VOLLEY_ENGINE_NET_STREAM_H_
