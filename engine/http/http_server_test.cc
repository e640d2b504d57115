#include "engine/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/runtime/shard.h"
#include "gtest/gtest.h"

namespace volley::http {
namespace {

// Runs a server on its own loop thread for the duration of a test.
class ServerFixture : public ::testing::Test {
 protected:
  // Overridden by fixtures that test limits.
  virtual HttpServerOptions Options() { return HttpServerOptions{}; }

  void SetUp() override {
    ASSERT_TRUE(shard_.Start().ok());
    absl::Status created = shard_.Call([this]() -> absl::Status {
      auto server = HttpServer::Create(shard_.loop(), Options());
      if (!server.ok()) return server.status();
      server_ = std::move(*server);
      server_->Route("GET", "/hello", [](const HttpRequest& r, Respond respond) {
        std::move(respond)(HttpResponse::Text(200, absl::StrCat("hi ", r.query, "\n")));
      });
      server_->Route("POST", "/echo", [](const HttpRequest& r, Respond respond) {
        std::move(respond)(HttpResponse::Json(200, r.body));
      });
      AddTestRoutes();
      return absl::OkStatus();
    });
    ASSERT_TRUE(created.ok()) << created;
  }

  void TearDown() override {
    StopServer();
    server_.reset();
  }

  // Closes the server and waits for its loop to end, which needs Close's `done`. Idempotent.
  void StopServer() {
    if (joined_) return;
    if (!stopped_) {
      shard_.Post([this] {
        if (server_ == nullptr) return CloseStopHandle();  // SetUp failed
        server_->Close([this] { CloseStopHandle(); });
      });
    }
    JoinLoop();
  }

  // Waits for the loop to end (after Close's `done` and the connections' linger), and checks
  // that the server left no handle open.
  void JoinLoop() {
    shard_.Join();
    joined_ = true;
    EXPECT_TRUE(shard_.loop_close_status().ok()) << shard_.loop_close_status();
  }

  // On the loop thread, from Close's `done`: the loop can end.
  void CloseStopHandle() {
    stopped_ = true;
    shard_.CloseMailbox();
  }

  // Routes for the tests below; on the loop thread once the loop runs.
  void AddTestRoutes() {
    server_->Route("HEAD", "/hello", [](const HttpRequest&, Respond respond) {
      std::move(respond)(HttpResponse::Text(200, "hi \n"));
    });
    // Holds its answer until /release.
    server_->Route("GET", "/held",
                   [this](const HttpRequest&, Respond respond) { held_ = std::move(respond); });
    server_->Route("GET", "/release", [this](const HttpRequest&, Respond respond) {
      const bool was_held = held_ != nullptr;
      if (was_held) std::move(held_)(HttpResponse::Text(200, "released\n"));
      held_ = nullptr;
      std::move(respond)(HttpResponse::Text(200, was_held ? "was held\n" : "nothing held\n"));
    });
    server_->Route("GET", "/drop", [](const HttpRequest&, Respond) {});
    server_->Route("GET", "/close", [this](const HttpRequest&, Respond respond) {
      server_->Close([this] { CloseStopHandle(); });
      // The connection is closed already: this does nothing.
      std::move(respond)(HttpResponse::Text(200, "closing\n"));
    });
    server_->Route("GET", "/connections", [this](const HttpRequest&, Respond respond) {
      std::move(respond)(HttpResponse::Text(200, absl::StrCat(server_->connection_count(), "\n")));
    });
  }

  // Sends `request` and reads until the peer closes or `until` is found.
  std::string RoundTrip(const std::string& request, absl::string_view until = "") {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string response;
    char buf[4096];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      response.append(buf, static_cast<size_t>(n));
      if (!until.empty() && absl::StrContains(response, until)) break;
    }
    close(fd);
    return response;
  }

  Shard shard_{0};
  std::unique_ptr<HttpServer> server_;
  bool joined_ = false;  // test thread
  std::atomic<bool> stopped_{false};
  Respond held_;  // loop thread only
};

// A blocking loopback client whose reads give up after 5 s.
class Client {
 public:
  explicit Client(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Client() { close(fd_); }

  bool connected() const { return connected_; }

  // Sends FIN: the server reads the end of the requests.
  void ShutdownWrite() { EXPECT_EQ(shutdown(fd_, SHUT_WR), 0); }

  void Send(absl::string_view bytes) {
    EXPECT_EQ(write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  // Reads until `until` has arrived (or the peer closed or went quiet); returns what arrived
  // up to and including `until`, and keeps the rest for the next read.
  std::string ReadUntil(absl::string_view until) {
    while (!absl::StrContains(pending_, until) && ReadSome()) {
    }
    const size_t at = absl::string_view(pending_).find(until);
    const size_t end = at == std::string::npos ? pending_.size() : at + until.size();
    std::string out = pending_.substr(0, end);
    pending_.erase(0, end);
    return out;
  }

  // Reads one response with its Content-Length body.
  std::string ReadResponse() {
    std::string head = ReadUntil("\r\n\r\n");
    size_t length = 0;
    const size_t at = head.find("Content-Length: ");
    if (at != std::string::npos) length = std::stoul(head.substr(at + 16));
    while (pending_.size() < length && ReadSome()) {
    }
    const size_t take = std::min(length, pending_.size());
    std::string out = head + pending_.substr(0, take);
    pending_.erase(0, take);
    return out;
  }

  // True if the server closed the connection (end of file before 5 s of silence), with
  // nothing more sent.
  bool ReadsEof() {
    while (ReadSome()) {
    }
    return eof_ && pending_.empty();
  }

 private:
  bool ReadSome() {
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n == 0) eof_ = true;
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  bool eof_ = false;
  std::string pending_;
};

TEST_F(ServerFixture, ServesRoutes) {
  std::string r = RoundTrip("GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "hi x=1\n")) << r;
}

TEST_F(ServerFixture, PostBodyAndKeepAlivePipelining) {
  std::string r = RoundTrip(
      "POST /echo HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
      "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"),
            std::string::npos)
      << r;
  EXPECT_TRUE(absl::EndsWith(r, "hi \n")) << r;
}

TEST_F(ServerFixture, ErrorsHaveTheRightStatus) {
  EXPECT_TRUE(absl::StartsWith(RoundTrip("GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n"),
                               "HTTP/1.1 404"));
  std::string r = RoundTrip("DELETE /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 405")) << r;
  EXPECT_NE(r.find("Allow: GET"), std::string::npos);
  EXPECT_TRUE(absl::StartsWith(RoundTrip("garbage\r\n\r\n"), "HTTP/1.1 400"));
  EXPECT_TRUE(absl::StartsWith(
      RoundTrip("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), "HTTP/1.1 411"));
  EXPECT_TRUE(absl::StartsWith(
      RoundTrip("POST /echo HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"), "HTTP/1.1 413"));
}

TEST_F(ServerFixture, KeepAliveServesRequestsInTurnOnOneConnection) {
  Client client(server_->port());
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    client.Send(absl::StrCat("GET /hello?n=", i, " HTTP/1.1\r\nHost: a\r\n\r\n"));
    std::string r = client.ReadResponse();
    EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
    EXPECT_TRUE(absl::EndsWith(r, absl::StrCat("hi n=", i, "\n"))) << r;
    EXPECT_FALSE(absl::StrContains(r, "Connection:")) << r;
  }
  client.Send("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(absl::StrContains(client.ReadResponse(), "Connection: close\r\n"));
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerFixture, Http10ClosesUnlessAskedToKeepAlive) {
  Client once(server_->port());
  once.Send("GET /hello HTTP/1.0\r\n\r\n");
  std::string r = once.ReadResponse();
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Connection: close\r\n")) << r;
  EXPECT_TRUE(once.ReadsEof());

  Client kept(server_->port());
  kept.Send("GET /hello?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  r = kept.ReadResponse();
  EXPECT_TRUE(absl::StrContains(r, "Connection: keep-alive\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "hi a\n")) << r;
  kept.Send("GET /hello?b HTTP/1.0\r\n\r\n");
  r = kept.ReadResponse();
  EXPECT_TRUE(absl::EndsWith(r, "hi b\n")) << r;
  EXPECT_TRUE(kept.ReadsEof());
}

TEST_F(ServerFixture, PipelinedRequestsWaitForTheOneBeforeThem) {
  Client first(server_->port());
  first.Send("GET /held HTTP/1.1\r\n\r\nGET /hello?after HTTP/1.1\r\n\r\n");
  // The second client learns when the held request has reached its handler.
  Client second(server_->port());
  std::string released;
  for (int i = 0; i < 500 && !absl::EndsWith(released, "was held\n"); ++i) {
    second.Send("GET /release HTTP/1.1\r\n\r\n");
    released = second.ReadResponse();
  }
  ASSERT_TRUE(absl::EndsWith(released, "was held\n")) << released;
  // Answered in order: the held request first, although /hello was answerable at once.
  std::string r = first.ReadResponse();
  EXPECT_TRUE(absl::EndsWith(r, "released\n")) << r;
  r = first.ReadResponse();
  EXPECT_TRUE(absl::EndsWith(r, "hi after\n")) << r;
}

TEST_F(ServerFixture, AHandlerThatDropsRespondGets500) {
  Client client(server_->port());
  client.Send("GET /drop HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  std::string r = client.ReadResponse();
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 500 Internal Server Error\r\n")) << r;
  // The connection goes on.
  EXPECT_TRUE(absl::EndsWith(client.ReadResponse(), "hi \n"));
}

TEST_F(ServerFixture, HeadSendsTheHeadersOnly) {
  Client client(server_->port());
  client.Send("HEAD /hello HTTP/1.1\r\n\r\nGET /hello?x HTTP/1.1\r\n\r\n");
  std::string head = client.ReadUntil("\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Content-Length: 4\r\n")) << head;
  // No body came between the two responses.
  std::string r = client.ReadResponse();
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "hi x\n")) << r;
}

TEST_F(ServerFixture, RefusedRequestsCloseTheConnection) {
  Client client(server_->port());
  client.Send(absl::StrCat("GET /hello HTTP/1.1\r\nX-Pad: ", std::string(20000, 'x'), "\r\n\r\n"));
  std::string r = client.ReadResponse();
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 431 Request Header Fields Too Large\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Connection: close\r\n")) << r;
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerFixture, RequestsSentBeforeTheClientHalfClosesAreAnswered) {
  Client client(server_->port());
  client.Send("GET /hello?1 HTTP/1.1\r\n\r\nGET /hello?2 HTTP/1.1\r\n\r\n");
  client.ShutdownWrite();
  EXPECT_TRUE(absl::EndsWith(client.ReadResponse(), "hi 1\n"));
  EXPECT_TRUE(absl::EndsWith(client.ReadResponse(), "hi 2\n"));
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerFixture, CloseEndsOpenConnectionsAndRunsDone) {
  Client client(server_->port());
  client.Send("GET /hello HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::EndsWith(client.ReadResponse(), "hi \n"));
  // The loop ends only once `done` has closed the last handle.
  StopServer();
  EXPECT_TRUE(stopped_);
  EXPECT_TRUE(client.ReadsEof());
}

TEST_F(ServerFixture, CloseFromAHandler) {
  Client client(server_->port());
  client.Send("GET /close HTTP/1.1\r\n\r\n");
  // The connection closed without an answer, and `done` ran.
  EXPECT_TRUE(client.ReadsEof());
  JoinLoop();
  EXPECT_TRUE(stopped_);
  EXPECT_EQ(server_->connection_count(), 0u);
}

class OneConnectionServer : public ServerFixture {
 protected:
  HttpServerOptions Options() override {
    HttpServerOptions options;
    options.max_connections = 1;
    return options;
  }
};

TEST_F(OneConnectionServer, AConnectionOverTheLimitGets503) {
  Client first(server_->port());
  first.Send("GET /connections HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::EndsWith(first.ReadResponse(), "\r\n\r\n1\n"));
  Client second(server_->port());
  std::string r = second.ReadResponse();
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 503 Service Unavailable\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Connection: close\r\n")) << r;
  EXPECT_TRUE(second.ReadsEof());
  // The first connection still works; once it is gone there is room again.
  first.Send("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(absl::EndsWith(first.ReadResponse(), "hi \n"));
  EXPECT_TRUE(first.ReadsEof());
  // The server let go of the connection before it sent its FIN.
  Client third(server_->port());
  third.Send("GET /connections HTTP/1.1\r\n\r\n");
  r = third.ReadResponse();
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\n1\n")) << r;
}

}  // namespace
}  // namespace volley::http
