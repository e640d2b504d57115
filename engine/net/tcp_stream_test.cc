#include "engine/net/tcp_stream.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/net/tcp_listener.h"
#include "gtest/gtest.h"

namespace volley::net {
namespace {

// One loop on the test thread: a listener, the connections it accepts, and clients.
class TcpStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    absl::StatusOr<std::unique_ptr<TcpListener>> listener =
        TcpListener::Listen(&loop_, ListenOptions{}, [this](std::unique_ptr<TcpStream> stream) {
          accepted_.push_back(std::move(stream));
          if (on_accept_) on_accept_(*accepted_.back());
        });
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
  }

  void TearDown() override {
    listener_.reset();
    accepted_.clear();
    client_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop_), 0);
  }

  // Runs the loop until `done` holds (or nothing is left to do).
  template <typename Pred>
  void RunUntil(Pred done) {
    while (!done() && uv_run(&loop_, UV_RUN_ONCE) != 0) {
    }
  }

  std::unique_ptr<TcpStream> ConnectClient(absl::Status* connected) {
    absl::StatusOr<std::unique_ptr<TcpStream>> stream =
        TcpStream::Connect(&loop_, "127.0.0.1", listener_->port(), "",
                           [connected](const absl::Status& status) { *connected = status; });
    EXPECT_TRUE(stream.ok()) << stream.status();
    return stream.ok() ? *std::move(stream) : nullptr;
  }

  uv_loop_t loop_;
  std::unique_ptr<TcpListener> listener_;
  std::vector<std::unique_ptr<TcpStream>> accepted_;
  std::function<void(TcpStream&)> on_accept_;
  std::unique_ptr<TcpStream> client_;
};

TEST_F(TcpStreamTest, BytesFlowBothWaysAndTheEndIsReported) {
  std::string server_got;
  absl::Status server_end = absl::UnknownError("not yet");
  on_accept_ = [&](TcpStream& stream) {
    stream.SetCallbacks({.on_data = [&](absl::string_view b) { absl::StrAppend(&server_got, b); },
                         .on_end = [&](const absl::Status& s) { server_end = s; }});
    ASSERT_TRUE(stream.StartReading().ok());
    stream.Write("hello ");
    stream.Write("client");
  };
  absl::Status connected = absl::UnknownError("not yet");
  client_ = ConnectClient(&connected);
  std::string client_got;
  RunUntil([&] { return connected.code() != absl::StatusCode::kUnknown; });
  ASSERT_TRUE(connected.ok()) << connected;
  EXPECT_EQ(client_->peer_address(), "127.0.0.1");
  client_->SetCallbacks({.on_data = [&](absl::string_view b) { absl::StrAppend(&client_got, b); }});
  ASSERT_TRUE(client_->StartReading().ok());
  client_->Write("hello server");
  RunUntil([&] { return client_got == "hello client" && server_got == "hello server"; });
  EXPECT_EQ(client_got, "hello client");
  EXPECT_EQ(server_got, "hello server");
  EXPECT_EQ(client_->write_queue_bytes(), 0u);
  // The client goes: the server hears the end, with OK.
  client_.reset();
  RunUntil([&] { return server_end.code() != absl::StatusCode::kUnknown; });
  EXPECT_TRUE(server_end.ok()) << server_end;
}

TEST_F(TcpStreamTest, ShutdownDeliversTheLastWordsBeforeClosing) {
  on_accept_ = [&](TcpStream& stream) {
    ASSERT_TRUE(stream.StartReading().ok());
    stream.Write(std::string(200000, 'x'));  // more than one socket buffer
    stream.Write("bye\r\n");
    stream.Shutdown(absl::Seconds(5));
    EXPECT_TRUE(stream.closed());
  };
  absl::Status connected = absl::UnknownError("not yet");
  client_ = ConnectClient(&connected);
  std::string got;
  bool ended = false;
  absl::Status end;
  RunUntil([&] { return connected.code() != absl::StatusCode::kUnknown; });
  ASSERT_TRUE(connected.ok());
  client_->SetCallbacks({.on_data = [&](absl::string_view b) { absl::StrAppend(&got, b); },
                         .on_end =
                             [&](const absl::Status& s) {
                               ended = true;
                               end = s;
                             }});
  ASSERT_TRUE(client_->StartReading().ok());
  // Unread input at the server must not make it reset the connection.
  client_->Write("some input the server never reads");
  RunUntil([&] { return ended; });
  EXPECT_TRUE(end.ok()) << end;
  EXPECT_EQ(got.size(), 200005u);
  EXPECT_TRUE(absl::EndsWith(got, "bye\r\n"));
}

TEST_F(TcpStreamTest, AStreamMayBeDestroyedInsideItsCallback) {
  int calls = 0;
  on_accept_ = [&](TcpStream& stream) {
    stream.SetCallbacks({.on_data = [&](absl::string_view) {
      ++calls;
      accepted_.clear();  // destroys this stream, inside its own callback
    }});
    ASSERT_TRUE(stream.StartReading().ok());
  };
  absl::Status connected = absl::UnknownError("not yet");
  client_ = ConnectClient(&connected);
  bool ended = false;
  RunUntil([&] { return connected.code() != absl::StatusCode::kUnknown; });
  client_->SetCallbacks({.on_end = [&](const absl::Status&) { ended = true; }});
  ASSERT_TRUE(client_->StartReading().ok());
  client_->Write("one");
  RunUntil([&] { return ended; });
  EXPECT_EQ(calls, 1);
}

TEST_F(TcpStreamTest, CallbacksReplacedInsideOnDataTakeOverAfterIt) {
  std::vector<std::string> seen;
  on_accept_ = [&](TcpStream& stream) {
    stream.SetCallbacks({.on_data = [&](absl::string_view b) {
      seen.push_back(absl::StrCat("first:", b));
      stream.SetCallbacks(
          {.on_data = [&](absl::string_view b) { seen.push_back(absl::StrCat("second:", b)); }});
      stream.Write("ok");
    }});
    ASSERT_TRUE(stream.StartReading().ok());
  };
  absl::Status connected = absl::UnknownError("not yet");
  client_ = ConnectClient(&connected);
  RunUntil([&] { return connected.code() != absl::StatusCode::kUnknown; });
  std::string reply;
  client_->SetCallbacks({.on_data = [&](absl::string_view b) { absl::StrAppend(&reply, b); }});
  ASSERT_TRUE(client_->StartReading().ok());
  client_->Write("a");
  RunUntil([&] { return reply == "ok"; });
  client_->Write("b");
  RunUntil([&] { return seen.size() == 2; });
  EXPECT_EQ(seen, (std::vector<std::string>{"first:a", "second:b"}));
}

TEST_F(TcpStreamTest, ARefusedConnectionIsReportedWithLibuvsReason) {
  // A port that was just free: nobody listens there.
  ListenOptions options;
  absl::StatusOr<int> fd = BindListeningSocket(options);
  ASSERT_TRUE(fd.ok());
  sockaddr_storage bound;
  socklen_t length = sizeof(bound);
  ASSERT_EQ(getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &length), 0);
  const uint16_t port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  close(*fd);
  absl::Status result = absl::UnknownError("not yet");
  absl::StatusOr<std::unique_ptr<TcpStream>> stream =
      TcpStream::Connect(&loop_, "127.0.0.1", port, "", [&](const absl::Status& s) { result = s; });
  ASSERT_TRUE(stream.ok());
  RunUntil([&] { return result.code() != absl::StatusCode::kUnknown; });
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(result.message(), "connection refused");
}

TEST_F(TcpStreamTest, BadAddressesAndSourcesFailAtOnce) {
  auto ignore = [](const absl::Status&) {};
  EXPECT_EQ(TcpStream::Connect(&loop_, "mx.example", 25, "", ignore).status().code(),
            absl::StatusCode::kInvalidArgument);
  // An address this host does not have cannot be bound: a local problem.
  absl::StatusOr<std::unique_ptr<TcpStream>> stream =
      TcpStream::Connect(&loop_, "127.0.0.1", listener_->port(), "192.0.2.1", ignore);
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(stream.status().message(), "cannot bind egress source 192.0.2.1"))
      << stream.status();
}

TEST_F(TcpStreamTest, ListeningTwiceOnAPortFailsWithTheAddress) {
  ListenOptions options;
  options.port = listener_->port();
  absl::StatusOr<std::unique_ptr<TcpListener>> second =
      TcpListener::Listen(&loop_, options, [](std::unique_ptr<TcpStream>) {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(),
                                absl::StrCat("cannot listen on 127.0.0.1:", options.port)))
      << second.status();
}

}  // namespace
}  // namespace volley::net
