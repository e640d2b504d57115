// A TCP connection on a libuv loop: accepted by a TcpListener or opened by Connect.
#ifndef VOLLEY_ENGINE_NET_TCP_STREAM_H_
#define VOLLEY_ENGINE_NET_TCP_STREAM_H_

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/net/stream.h"

namespace volley::net {

// Reads land in one 64 KiB buffer per loop thread (libuv calls the read callback right after
// the allocation callback, and on_data consumers copy what they keep). Writes are handed to
// libuv at once, which tries to send them synchronously and queues the rest in order. Nagle is
// off: SMTP and HTTP write whole replies.
//
// All calls and callbacks on the loop's thread (see Stream).
class TcpStream final : public Stream {
 public:
  // Ok, or why the connection could not be made (the message is libuv's, e.g. "connection
  // refused"; the caller names the peer).
  using ConnectCallback = absl::AnyInvocable<void(const absl::Status& status)>;

  // Starts connecting to ip:port, from `source_ip` when it is an address of the same family
  // ("" or an any-address: the kernel chooses). Errors now: a bad address (kInvalidArgument),
  // the source cannot be bound (kFailedPrecondition: a local problem, not the peer's), or libuv
  // refused to start (kUnavailable). Otherwise `done` runs once, later, unless the stream is
  // closed first; reading starts only on StartReading.
  static absl::StatusOr<std::unique_ptr<TcpStream>> Connect(uv_loop_t* loop, absl::string_view ip,
                                                            uint16_t port,
                                                            absl::string_view source_ip,
                                                            ConnectCallback done);

  // Takes a pending connection from a listening handle (TcpListener does this).
  static absl::StatusOr<std::unique_ptr<TcpStream>> Accept(uv_stream_t* server);

  ~TcpStream() override;  // closes now if still open
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  void SetCallbacks(StreamCallbacks callbacks) override;
  absl::Status StartReading() override;
  void StopReading() override;
  void Write(std::string bytes) override;
  void Shutdown(absl::Duration linger) override;
  void Close() override;
  bool closed() const override;
  const std::string& peer_address() const override;
  const std::string& local_address() const override;

  // Bytes handed to Write and not yet written to the socket.
  size_t write_queue_bytes() const;

 private:
  struct Box;
  explicit TcpStream(Box* box) : box_(box) {}
  Box* const box_;  // freed in the handle's close callback
};

}  // namespace volley::net

#endif  // VOLLEY_ENGINE_NET_TCP_STREAM_H_
