#include "engine/http/http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley::http {
namespace {

TEST(ParseHttpUrl, HostPortAndPath) {
  absl::StatusOr<HttpUrl> u = ParseHttpUrl("http://127.0.0.1:9000/events?x=1");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->path, "/events?x=1");
  u = ParseHttpUrl("http://[::1]/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 80);
  u = ParseHttpUrl("http://hooks.example.net");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->path, "/");
  EXPECT_TRUE(absl::StrContains(ParseHttpUrl("https://x/").status().message(), "https"));
  EXPECT_FALSE(ParseHttpUrl("ftp://x/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://:80/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://x:99999/").ok());
}

// A one-shot server on loopback that answers `answer` and keeps what it was sent.
class OneShotServer {
 public:
  explicit OneShotServer(std::string answer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 1);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, answer = std::move(answer)] {
      const int c = ::accept(fd_, nullptr, nullptr);
      char buf[4096];
      // Read until the request's body (its Content-Length) has arrived.
      while (true) {
        const ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        request_.append(buf, static_cast<size_t>(n));
        const size_t end = request_.find("\r\n\r\n");
        if (end != std::string::npos && absl::StrContains(request_, "Content-Length: 5\r\n") &&
            request_.size() >= end + 4 + 5) {
          break;
        }
      }
      ::write(c, answer.data(), answer.size());
      ::close(c);
    });
  }
  ~OneShotServer() {
    Join();
    ::close(fd_);
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return port_; }
  const std::string& request() const { return request_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(HttpRequest, PostsTheBodyAndHeadersAndReadsTheAnswer) {
  // The answer's Content-Length ends it, though the server keeps the connection open.
  OneShotServer server("HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok");
  HttpUrl url{"127.0.0.1", server.port(), "/events"};
  absl::StatusOr<HttpClientResponse> r =
      HttpRequest("POST", url, {{"Content-Type", "application/json"}, {"X-Sig", "abc"}}, "[1,2]",
                  absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "ok");
  server.Join();
  EXPECT_TRUE(absl::StartsWith(server.request(), "POST /events HTTP/1.1\r\n")) << server.request();
  EXPECT_TRUE(absl::StrContains(server.request(), "\r\nX-Sig: abc\r\n"));
  EXPECT_TRUE(absl::StrContains(server.request(), "\r\nContent-Type: application/json\r\n"));
  EXPECT_TRUE(absl::EndsWith(server.request(), "\r\n\r\n[1,2]"));
}

TEST(HttpRequest, NobodyListeningIsUnavailable) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // a port nobody listens on
  absl::StatusOr<HttpClientResponse> r = HttpRequest(
      "POST", HttpUrl{"127.0.0.1", ntohs(addr.sin_port), "/"}, {}, "x", absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST(HttpRequest, AnAnswerThatIsNotHttpIsDataLoss) {
  OneShotServer server("SMTP? 220 hello\r\n");
  absl::StatusOr<HttpClientResponse> r =
      HttpRequest("POST", HttpUrl{"127.0.0.1", server.port(), "/"}, {}, "[1,2]", absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

}  // namespace
}  // namespace volley::http
