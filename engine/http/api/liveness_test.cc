#include "engine/http/api/liveness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "engine/http/http_server.h"
#include "gtest/gtest.h"

namespace volley::http::api {
namespace {

std::optional<HttpResponse> Answer(Router& router, std::string method, std::string path) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  std::optional<HttpResponse> answer;
  router.Dispatch(request, [&answer](HttpResponse response) { answer = std::move(response); });
  return answer;
}

TEST(LivenessTest, GetAnswersOk) {
  Router router;
  RegisterLiveness(&router);
  std::optional<HttpResponse> r = Answer(router, "GET", "/api/check-liveness/v1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "OK\n");
  EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");
}

TEST(LivenessTest, OnlyGetIsRouted) {
  Router router;
  RegisterLiveness(&router);
  std::optional<HttpResponse> r = Answer(router, "POST", "/api/check-liveness/v1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "Allow");
  EXPECT_EQ(r->headers[0].second, "GET");
  EXPECT_EQ(Answer(router, "GET", "/api/check-liveness/v2")->status, 404);
}

// A blocking loopback request; returns everything the server sent until it closed.
std::string Fetch(uint16_t port, const std::string& request) {
  std::string response;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

// The route on a real server, over loopback: the loop runs on this thread, the client on
// another, which closes the server through an async handle when it has its answer.
TEST(LivenessTest, ServedOverHttp) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(&loop, {});
  ASSERT_TRUE(server.ok()) << server.status();
  RegisterLiveness(&(*server)->router());
  uv_async_t client_done;
  client_done.data = server->get();
  ASSERT_EQ(uv_async_init(&loop, &client_done,
                          [](uv_async_t* handle) {
                            static_cast<HttpServer*>(handle->data)->Close([handle] {
                              uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
                            });
                          }),
            0);
  std::string response;
  std::thread client([&] {
    response = Fetch((*server)->port(),
                     "GET /api/check-liveness/v1 HTTP/1.1\r\nHost: a\r\n"
                     "Connection: close\r\n\r\n");
    uv_async_send(&client_done);
  });
  EXPECT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  client.join();
  server->reset();
  EXPECT_EQ(uv_loop_close(&loop), 0);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_TRUE(absl::EndsWith(response, "\r\n\r\nOK\n")) << response;
}

}  // namespace
}  // namespace volley::http::api
