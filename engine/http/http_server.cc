#include "engine/http/http_server.h"

#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "engine/base/liveness.h"
#include "engine/base/logging.h"
#include "engine/http/http_request_parser.h"

namespace volley::http {

// One accepted connection: parses its requests, hands them to the router one at a time, and
// writes the responses in order.
//
// The connection is destroyed (by the server, through Release) only when no call into it is
// running: every entry point (stream callbacks, the Respond of a handler) goes through Enter,
// which counts how deep the calls into the connection are nested. A handler may respond from
// inside its own call, and a write may report a failure from inside Write, so these nest.
//
// All calls and callbacks on the loop's thread.
class HttpServer::Connection {
 public:
  Connection(HttpServer* server, std::unique_ptr<net::TcpStream> stream)
      : server_(server),
        stream_(std::move(stream)),
        parser_(RequestLimits{.max_header_bytes = server->options_.max_header_bytes,
                              .max_body_bytes = server->options_.max_body_bytes}) {}

  // Starts reading. On a failure the connection is finished (and released by Enter).
  void Start() {
    Enter([this] {
      stream_->SetCallbacks({
          .on_data = [this](absl::string_view bytes) { Enter([&] { OnData(bytes); }); },
          .on_end = [this](const absl::Status& status) { Enter([&] { OnEnd(status); }); },
      });
      ResumeReading();
    });
  }

  // Closes the connection at once (the server is closing).
  void Abort() {
    finished_ = true;
    stream_->Close();
  }

  // A call into the connection is running: the server must not destroy it now.
  bool in_call() const { return depth_ > 0; }

 private:
  class Reply;

  // Runs `body` as an entry point, then releases the connection if it finished and no outer
  // call is running. Release destroys the connection: nothing may follow it.
  template <typename Body>
  void Enter(Body body) {
    ++depth_;
    body();
    if (--depth_ == 0 && finished_) server_->Release(this);
  }

  void OnData(absl::string_view bytes) {
    parser_.Feed(bytes);
    Process();
  }

  void OnEnd(const absl::Status& status) {
    if (!status.ok()) {
      // A reset or a failed write: nothing more can be said to this client. Clients going
      // away is routine, so it is not logged.
      Abort();
      return;
    }
    // The client sent all it will send. Requests already received are still answered (a
    // client may half-close after its last request); Process ends the connection after them.
    peer_ended_ = true;
    if (!busy_ && !processing_) Process();
  }

  // Answers the requests received, one at a time, until one is with its handler or more bytes
  // are needed. Not re-entered: a handler responding at once continues the loop of the caller.
  void Process() {
    if (processing_) return;
    processing_ = true;
    while (!busy_ && !finished_) {
      HttpRequestParser::Result result = parser_.Next();
      if (result.kind == HttpRequestParser::Result::Kind::kNeedMore) break;
      if (result.kind == HttpRequestParser::Result::Kind::kError) {
        head_ = false;
        Send(HttpResponse::Text(result.status, absl::StrCat(result.message, "\n")),
             /*close=*/true);
        break;
      }
      Dispatch(std::move(result));
    }
    processing_ = false;
    if (busy_ || finished_) return;
    if (peer_ended_ || parser_.finished()) {
      // Nothing more will come, or nothing more will be read (after a request that was not
      // keep-alive, its response already said "Connection: close").
      Finish();
      return;
    }
    ResumeReading();
  }

  // Hands the request to its handler (defined after Reply).
  void Dispatch(HttpRequestParser::Result result);

  // The handler's response to the request in progress.
  void OnResponse(HttpResponse response) {
    if (!busy_ || finished_) return;
    busy_ = false;
    Send(response, /*close=*/!keep_alive_);
    if (!finished_) Process();
  }

  void Send(const HttpResponse& response, bool close) {
    stream_->Write(SerializeResponse(
        response, {.close = close, .keep_alive_header = !close && http10_, .omit_body = head_}));
    if (close && !finished_) Finish();
  }

  void ResumeReading() {
    const absl::Status status = stream_->StartReading();
    if (!status.ok()) {
      LOG_EVERY_N_SEC(WARNING, 5) << "http connection from " << stream_->peer_address() << ": "
                                  << status;
      Abort();
    }
  }

  // Ends the connection politely: what is written goes out, then the stream lingers on its own
  // (it outlives this object).
  void Finish() {
    finished_ = true;
    stream_->Shutdown(server_->options_.linger);
  }

  HttpServer* const server_;
  std::unique_ptr<net::TcpStream> stream_;
  HttpRequestParser parser_;
  int depth_ = 0;
  bool processing_ = false;
  bool busy_ = false;        // a request is with its handler
  bool finished_ = false;    // no more requests or responses: release when no call runs
  bool peer_ended_ = false;  // the client will send nothing more
  // Of the request in progress.
  bool keep_alive_ = false;
  bool http10_ = false;
  bool head_ = false;
  // Last member: Reply checks it before touching the connection.
  Liveness liveness_;
};

// The Respond a handler gets. Calling it answers the request; dropping it without calling it
// is a bug in the handler, answered with 500 so that the connection is not stuck. Either does
// nothing once the connection is gone.
class HttpServer::Connection::Reply {
 public:
  explicit Reply(Connection* connection)
      : connection_(connection), alive_(connection->liveness_.weak()) {}
  Reply(Reply&& other) noexcept
      : connection_(std::exchange(other.connection_, nullptr)), alive_(std::move(other.alive_)) {}
  Reply& operator=(Reply&&) = delete;
  ~Reply() {
    if (connection_ != nullptr) {
      Answer(std::exchange(connection_, nullptr),
             HttpResponse::Text(500, "the handler did not answer\n"));
    }
  }

  void operator()(HttpResponse response) && {
    if (connection_ != nullptr) Answer(std::exchange(connection_, nullptr), std::move(response));
  }

 private:
  void Answer(Connection* connection, HttpResponse response) {
    if (!alive_.alive()) return;
    connection->Enter([&] { connection->OnResponse(std::move(response)); });
  }

  Connection* connection_;
  Liveness::Weak alive_;
};

void HttpServer::Connection::Dispatch(HttpRequestParser::Result result) {
  busy_ = true;
  keep_alive_ = result.keep_alive;
  http10_ = result.http10;
  head_ = result.request.method == "HEAD";
  result.request.peer_address = stream_->peer_address();
  server_->router_.Dispatch(result.request, Respond(Reply(this)));
  // Backpressure: a client pipelining requests to a slow handler waits in its socket buffer,
  // not in our memory.
  if (busy_ && !finished_) stream_->StopReading();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(uv_loop_t* loop,
                                                               const HttpServerOptions& options) {
  auto server = absl::WrapUnique(new HttpServer(options));
  net::ListenOptions listen;
  listen.address = options.address;
  listen.port = options.port;
  listen.backlog = 128;
  HttpServer* self = server.get();
  absl::StatusOr<std::unique_ptr<net::TcpListener>> listener = net::TcpListener::Listen(
      loop, listen,
      [self](std::unique_ptr<net::TcpStream> stream) { self->OnAccept(std::move(stream)); });
  if (!listener.ok()) return listener.status();
  server->listener_ = *std::move(listener);
  server->port_ = server->listener_->port();
  return server;
}

HttpServer::~HttpServer() {
  listener_.reset();
  for (Connection* connection : connections_) delete connection;  // its stream closes
}

void HttpServer::Route(absl::string_view method, absl::string_view path, Handler handler) {
  router_.Add(method, path, std::move(handler));
}

void HttpServer::OnAccept(std::unique_ptr<net::TcpStream> stream) {
  if (closing_) return;  // the stream closes as it goes
  if (static_cast<int>(connections_.size()) >= options_.max_connections) {
    // Told rather than cut off, so that the client can tell a full server from a broken one.
    stream->Write(
        SerializeResponse(HttpResponse::Text(503, "too many connections\n"), {.close = true}));
    stream->Shutdown(options_.linger);
    return;
  }
  auto* connection = new Connection(this, std::move(stream));
  connections_.insert(connection);
  connection->Start();
}

void HttpServer::Release(Connection* connection) {
  connections_.erase(connection);
  delete connection;
  MaybeFinishClose();
}

void HttpServer::Close(absl::AnyInvocable<void()> done) {
  if (closing_) {
    LOG(WARNING) << "HttpServer::Close called twice";
    return;
  }
  closing_ = true;
  close_done_ = std::move(done);
  listener_.reset();
  std::vector<Connection*> open(connections_.begin(), connections_.end());
  for (Connection* connection : open) {
    connection->Abort();
    // A connection inside a call releases itself when the call returns.
    if (!connection->in_call()) {
      connections_.erase(connection);
      delete connection;
    }
  }
  MaybeFinishClose();
}

void HttpServer::MaybeFinishClose() {
  if (!closing_ || !connections_.empty() || !close_done_) return;
  // `done` may destroy the server: nothing may touch `this` after it.
  absl::AnyInvocable<void()> done = std::move(close_done_);
  close_done_ = nullptr;
  done();
}

}  // namespace volley::http
