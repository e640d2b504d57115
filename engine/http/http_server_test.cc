#include "engine/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::http {
namespace {

// Runs a server on its own loop thread for the duration of a test.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    auto server = HttpServer::Create(&loop_, HttpServerOptions{});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Route("GET", "/hello", [](const HttpRequest& r, Respond respond) {
      std::move(respond)(HttpResponse::Text(200, absl::StrCat("hi ", r.query, "\n")));
    });
    server_->Route("POST", "/echo", [](const HttpRequest& r, Respond respond) {
      std::move(respond)(HttpResponse::Json(200, r.body));
    });
    // Keeps the loop alive until the test stops it.
    uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
      auto* self = static_cast<ServerFixture*>(a->data);
      self->server_->Close(
          [self] { uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_), nullptr); });
    });
    stop_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  void TearDown() override {
    uv_async_send(&stop_);
    thread_.join();
    server_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
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

  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
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

}  // namespace
}  // namespace volley::http
