#include "engine/http/http_server.h"

#include <list>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/logging.h"
#include "engine/base/net_address.h"

namespace volley::http {
namespace {

absl::string_view StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 507:
      return "Insufficient Storage";
    default:
      return "Status";
  }
}

}  // namespace

absl::string_view HttpRequest::Header(absl::string_view lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? absl::string_view() : absl::string_view(it->second);
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

class HttpServer::Impl {
 public:
  Impl(uv_loop_t* loop, const HttpServerOptions& options) : loop_(loop), options_(options) {}

  struct Connection {
    Impl* server;
    uv_tcp_t tcp;
    std::string input;
    bool busy = false;  // a request is with its handler
    bool closing = false;
    bool keep_alive = true;
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);
    std::list<Connection*>::iterator position;
  };

  struct WriteRequest {
    uv_write_t req;
    std::string data;
    Connection* connection;
    bool close_after;
  };

  absl::Status Listen() {
    absl::StatusOr<int> fd = BindListeningSocket(options_.address, options_.port, false, 128);
    if (!fd.ok()) return fd.status();
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
    int rc = uv_tcp_open(&listener_, *fd);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, &OnConnection);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
      return absl::UnavailableError(absl::StrCat("http listen: ", uv_strerror(rc)));
    }
    sockaddr_storage bound;
    int length = sizeof(bound);
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = PortOf(reinterpret_cast<sockaddr*>(&bound));
    listening_ = true;
    return absl::OkStatus();
  }

  static void OnConnection(uv_stream_t* stream, int status) {
    auto* self = static_cast<Impl*>(stream->data);
    if (status < 0) return;
    auto* c = new Connection{.server = self};
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(stream, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &OnConnectionClosed);
      c->position = self->connections_.insert(self->connections_.end(), c);
      return;
    }
    c->position = self->connections_.insert(self->connections_.end(), c);
    if (static_cast<int>(self->connections_.size()) > self->options_.max_connections) {
      self->CloseConnection(c);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &OnAlloc, &OnRead);
  }

  static void OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    static constexpr size_t kSize = 64 * 1024;
    buf->base = new char[kSize];
    buf->len = kSize;
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    if (nread > 0) c->input.append(buf->base, static_cast<size_t>(nread));
    delete[] buf->base;
    if (nread < 0) {
      c->server->CloseConnection(c);
      return;
    }
    c->server->Process(c);
  }

  void Process(Connection* c) {
    if (c->busy || c->closing) return;
    const size_t header_end = c->input.find("\r\n\r\n");
    if (header_end == std::string::npos) {
      if (c->input.size() > options_.max_header_bytes) {
        SendError(c, 431, "request headers too large");
      }
      return;
    }
    HttpRequest request;
    absl::string_view head(c->input.data(), header_end);
    std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
    std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
    if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.")) {
      SendError(c, 400, "malformed request line");
      return;
    }
    request.method = std::string(parts[0]);
    absl::string_view target = parts[1];
    const size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != absl::string_view::npos) request.query = std::string(target.substr(q + 1));
    const bool http10 = parts[2] == "HTTP/1.0";
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos) {
        SendError(c, 400, "malformed header line");
        return;
      }
      std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      request.headers[name] = std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    const absl::string_view connection = request.Header("connection");
    c->keep_alive = http10 ? absl::EqualsIgnoreCase(connection, "keep-alive")
                           : !absl::EqualsIgnoreCase(connection, "close");
    if (!request.Header("transfer-encoding").empty()) {
      SendError(c, 411, "chunked request bodies are not supported; send Content-Length");
      return;
    }
    size_t body_length = 0;
    const absl::string_view length_text = request.Header("content-length");
    if (!length_text.empty() && !absl::SimpleAtoi(length_text, &body_length)) {
      SendError(c, 400, "bad Content-Length");
      return;
    }
    if (body_length > options_.max_body_bytes) {
      SendError(c, 413, "request body too large");
      return;
    }
    const size_t total = header_end + 4 + body_length;
    if (c->input.size() < total) return;  // wait for the rest of the body
    request.body = c->input.substr(header_end + 4, body_length);
    c->input.erase(0, total);
    Dispatch(c, request);
  }

  void Dispatch(Connection* c, const HttpRequest& request) {
    auto path_it = routes_.find(request.path);
    if (path_it == routes_.end()) {
      Send(c, HttpResponse::Text(404, "not found\n"));
      return;
    }
    auto method_it = path_it->second.find(request.method);
    if (method_it == path_it->second.end()) {
      std::vector<std::string> allowed;
      for (const auto& [method, handler] : path_it->second) allowed.push_back(method);
      std::sort(allowed.begin(), allowed.end());
      HttpResponse r = HttpResponse::Text(405, "method not allowed\n");
      r.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
      Send(c, std::move(r));
      return;
    }
    c->busy = true;
    std::weak_ptr<bool> alive = c->alive;
    method_it->second(request, [this, c, alive](HttpResponse response) {
      if (alive.expired()) return;
      c->busy = false;
      Send(c, std::move(response));
      // Pipelined requests already received.
      if (!c->closing && !c->input.empty()) Process(c);
    });
  }

  void SendError(Connection* c, int status, absl::string_view message) {
    c->keep_alive = false;
    Send(c, HttpResponse::Text(status, absl::StrCat(message, "\n")));
  }

  void Send(Connection* c, HttpResponse response) {
    if (c->closing) return;
    auto* w = new WriteRequest;
    w->connection = c;
    w->close_after = !c->keep_alive;
    w->data = absl::StrCat("HTTP/1.1 ", response.status, " ", StatusText(response.status),
                           "\r\nContent-Type: ", response.content_type,
                           "\r\nContent-Length: ", response.body.size(), "\r\n");
    for (const auto& [name, value] : response.headers) {
      absl::StrAppend(&w->data, name, ": ", value, "\r\n");
    }
    if (!c->keep_alive) w->data.append("Connection: close\r\n");
    w->data.append("\r\n");
    w->data.append(response.body);
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    w->req.data = w;
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, &OnWritten);
    if (rc != 0) {
      delete w;
      CloseConnection(c);
    }
  }

  static void OnWritten(uv_write_t* req, int status) {
    auto* w = static_cast<WriteRequest*>(req->data);
    Connection* c = w->connection;
    const bool close_after = w->close_after;
    delete w;
    if (status < 0 || close_after) c->server->CloseConnection(c);
  }

  void CloseConnection(Connection* c) {
    if (c->closing) return;
    c->closing = true;
    *c->alive = false;
    c->alive.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &OnConnectionClosed);
  }

  static void OnConnectionClosed(uv_handle_t* handle) {
    auto* c = static_cast<Connection*>(handle->data);
    Impl* self = c->server;
    self->connections_.erase(c->position);
    delete c;
    self->MaybeFinishClose();
  }

  void Close(absl::AnyInvocable<void()> done) {
    close_done_ = std::move(done);
    closing_ = true;
    if (listening_) {
      listening_ = false;
      listener_closed_ = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&listener_), [](uv_handle_t* handle) {
        auto* self = static_cast<Impl*>(handle->data);
        self->listener_closed_ = true;
        self->MaybeFinishClose();
      });
    }
    std::vector<Connection*> open(connections_.begin(), connections_.end());
    for (Connection* c : open) CloseConnection(c);
    MaybeFinishClose();
  }

  void MaybeFinishClose() {
    if (closing_ && listener_closed_ && connections_.empty() && close_done_) {
      auto done = std::move(close_done_);
      close_done_ = nullptr;
      done();
    }
  }

  uv_loop_t* loop_;
  HttpServerOptions options_;
  uv_tcp_t listener_;
  bool listening_ = false;
  bool listener_closed_ = true;
  bool closing_ = false;
  uint16_t port_ = 0;
  std::list<Connection*> connections_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Handler>> routes_;
  absl::AnyInvocable<void()> close_done_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(uv_loop_t* loop,
                                                               const HttpServerOptions& options) {
  auto impl = std::make_unique<Impl>(loop, options);
  absl::Status status = impl->Listen();
  if (!status.ok()) return status;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() = default;

void HttpServer::Route(absl::string_view method, absl::string_view path, Handler handler) {
  impl_->routes_[path][method] = std::move(handler);
}

uint16_t HttpServer::port() const { return impl_->port_; }

void HttpServer::Close(absl::AnyInvocable<void()> done) { impl_->Close(std::move(done)); }

}  // namespace volley::http
