#include "engine/net/tcp_stream.h"

#include <sys/socket.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/net_address.h"
#include "engine/net/callback_slot.h"
#include "engine/runtime/timer.h"

namespace volley::net {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;

bool IsAnyAddress(absl::string_view address) {
  return address.empty() || address == "0.0.0.0" || address == "::";
}

absl::Status UvError(absl::string_view call, int rc) {
  return absl::UnavailableError(absl::StrCat(call, ": ", uv_strerror(rc)));
}

}  // namespace

struct TcpStream::Box {
  enum class State { kConnecting, kOpen, kLingering, kClosed };

  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_shutdown_t shutdown;
  State state = State::kConnecting;
  // The TcpStream still exists. The box is freed by whichever ends last: the owner (in its
  // destructor) or the handle (in its close callback).
  bool owner_alive = true;
  bool handle_closed = false;
  bool reading = false;
  bool ended = false;  // on_end was called
  CallbackSlot callbacks;
  ConnectCallback on_connected;
  std::unique_ptr<Timer> linger;
  std::string peer;
  std::string local;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

  void CloseHandle() {
    if (state == State::kClosed) return;
    state = State::kClosed;
    linger.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), [](uv_handle_t* handle) {
      Box* box = static_cast<Box*>(handle->data);
      box->handle_closed = true;
      if (!box->owner_alive) delete box;
    });
  }

  void ReadAddresses() {
    sockaddr_storage address;
    int length = sizeof(address);
    if (uv_tcp_getpeername(&tcp, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      peer = IpOf(reinterpret_cast<sockaddr*>(&address));
    }
    length = sizeof(address);
    if (uv_tcp_getsockname(&tcp, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      local = IpOf(reinterpret_cast<sockaddr*>(&address));
    }
    // Nagle would hold a reply back until the previous one is acknowledged. Failing to turn it
    // off costs latency only, so it is reported, not fatal.
    if (const int rc = uv_tcp_nodelay(&tcp, 1); rc != 0) {
      LOG_EVERY_N_SEC(WARNING, 60) << "uv_tcp_nodelay: " << uv_strerror(rc);
    }
  }

  // Reports the end of input once, and stops reading.
  void End(const absl::Status& status) {
    if (state != State::kOpen || ended) return;
    ended = true;
    if (reading) {
      uv_read_stop(stream());
      reading = false;
    }
    callbacks.End(status);
  }

  static void OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    thread_local std::unique_ptr<char[]> buffer(new char[kReadBufferSize]);
    buf->base = buffer.get();
    buf->len = kReadBufferSize;
  }

  static void OnRead(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buf) {
    Box* box = static_cast<Box*>(handle->data);
    if (nread == 0) return;  // EAGAIN
    if (box->state == State::kLingering) {
      // Input after our last word is read only to be thrown away; the peer's close ends it.
      if (nread < 0) box->CloseHandle();
      return;
    }
    if (box->state != State::kOpen) return;
    if (nread < 0) {
      box->End(nread == UV_EOF ? absl::OkStatus() : UvError("read", static_cast<int>(nread)));
      return;
    }
    box->callbacks.Data(absl::string_view(buf->base, static_cast<size_t>(nread)));
  }
};

absl::StatusOr<std::unique_ptr<TcpStream>> TcpStream::Connect(uv_loop_t* loop, absl::string_view ip,
                                                              uint16_t port,
                                                              absl::string_view source_ip,
                                                              ConnectCallback done) {
  absl::StatusOr<sockaddr_storage> address = MakeSocketAddress(ip, port);
  if (!address.ok()) return address.status();
  auto* box = new Box;
  const int init = uv_tcp_init(loop, &box->tcp);
  if (init != 0) {
    delete box;  // never became a handle
    return UvError("uv_tcp_init", init);
  }
  box->tcp.data = box;
  box->connect.data = box;
  auto stream = std::unique_ptr<TcpStream>(new TcpStream(box));
  if (!IsAnyAddress(source_ip)) {
    absl::StatusOr<sockaddr_storage> source = MakeSocketAddress(source_ip, 0);
    if (!source.ok()) return source.status();
    // A source of the other family cannot reach this peer; the kernel picks one instead.
    if (source->ss_family == address->ss_family) {
      const int rc = uv_tcp_bind(&box->tcp, reinterpret_cast<const sockaddr*>(&*source), 0);
      if (rc != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot bind egress source ", source_ip, ": ", uv_strerror(rc)));
      }
    }
  }
  box->on_connected = std::move(done);
  const int rc = uv_tcp_connect(
      &box->connect, &box->tcp, reinterpret_cast<const sockaddr*>(&*address),
      [](uv_connect_t* request, int status) {
        Box* box = static_cast<Box*>(request->data);
        if (box->state != Box::State::kConnecting) return;
        if (status == 0) {
          box->state = Box::State::kOpen;
          box->ReadAddresses();
        }
        ConnectCallback done = std::move(box->on_connected);
        done(status == 0 ? absl::OkStatus() : absl::UnavailableError(uv_strerror(status)));
      });
  if (rc != 0) return UvError("uv_tcp_connect", rc);
  return stream;
}

absl::StatusOr<std::unique_ptr<TcpStream>> TcpStream::Accept(uv_stream_t* server) {
  auto* box = new Box;
  const int init = uv_tcp_init(server->loop, &box->tcp);
  if (init != 0) {
    delete box;
    return UvError("uv_tcp_init", init);
  }
  box->tcp.data = box;
  auto stream = std::unique_ptr<TcpStream>(new TcpStream(box));
  const int rc = uv_accept(server, box->stream());
  if (rc != 0) return UvError("uv_accept", rc);
  box->state = Box::State::kOpen;
  box->ReadAddresses();
  return stream;
}

TcpStream::~TcpStream() {
  box_->owner_alive = false;
  if (box_->handle_closed) {
    delete box_;
  } else if (box_->state != Box::State::kLingering) {
    box_->CloseHandle();
  }
  // A lingering connection finishes on its own: Shutdown handed its end to the stream.
}

void TcpStream::SetCallbacks(StreamCallbacks callbacks) {
  box_->callbacks.Set(std::move(callbacks));
}

absl::Status TcpStream::StartReading() {
  if (box_->state != Box::State::kOpen) {
    return absl::FailedPreconditionError("read: the connection is not open");
  }
  if (box_->reading || box_->ended) return absl::OkStatus();
  const int rc = uv_read_start(box_->stream(), &Box::OnAlloc, &Box::OnRead);
  if (rc != 0) return UvError("uv_read_start", rc);
  box_->reading = true;
  return absl::OkStatus();
}

void TcpStream::StopReading() {
  if (!box_->reading || box_->state != Box::State::kOpen) return;
  uv_read_stop(box_->stream());
  box_->reading = false;
}

namespace {

struct WriteRequest {
  uv_write_t request;
  std::string data;
};

}  // namespace

void TcpStream::Write(std::string bytes) {
  Box* box = box_;
  if (box->state != Box::State::kOpen || bytes.empty()) return;
  auto* write = new WriteRequest;
  write->data = std::move(bytes);
  write->request.data = box;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  const int rc = uv_write(&write->request, box->stream(), &buf, 1, [](uv_write_t* req, int status) {
    auto* write = reinterpret_cast<WriteRequest*>(req);
    // Write callbacks, cancelled ones included, all run before the handle's close callback, so
    // the box is still there.
    Box* box = static_cast<Box*>(req->data);
    delete write;
    if (status < 0 && status != UV_ECANCELED) box->End(UvError("write", status));
  });
  if (rc != 0) {
    delete write;
    box->End(UvError("uv_write", rc));
  }
}

void TcpStream::Shutdown(absl::Duration linger) {
  Box* box = box_;
  if (box->state != Box::State::kOpen) {
    if (box->state == Box::State::kConnecting) box->CloseHandle();
    return;
  }
  box->state = Box::State::kLingering;
  box->shutdown.data = box;
  // uv_shutdown waits for the queued writes, then sends FIN.
  const int rc = uv_shutdown(&box->shutdown, box->stream(), [](uv_shutdown_t* req, int status) {
    Box* box = static_cast<Box*>(req->data);
    // With the peer's side already closed nothing is left to wait for.
    if (status < 0 || box->ended) box->CloseHandle();
  });
  if (rc != 0) {
    box->CloseHandle();
    return;
  }
  if (!box->reading && !box->ended) {
    if (uv_read_start(box->stream(), &Box::OnAlloc, &Box::OnRead) == 0) box->reading = true;
  }
  box->linger = std::make_unique<Timer>(box->tcp.loop, [box] { box->CloseHandle(); });
  box->linger->Start(linger);
}

void TcpStream::Close() { box_->CloseHandle(); }

bool TcpStream::closed() const {
  return box_->state == Box::State::kClosed || box_->state == Box::State::kLingering;
}

const std::string& TcpStream::peer_address() const { return box_->peer; }
const std::string& TcpStream::local_address() const { return box_->local; }
size_t TcpStream::write_queue_bytes() const {
  return box_->state == Box::State::kClosed ? 0 : uv_stream_get_write_queue_size(box_->stream());
}

}  // namespace volley::net
