#include "engine/webhook/webhook_queue.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/smtp/reply.h"
#include "gtest/gtest.h"
#include "queue/test_temp_path.h"

namespace volley::webhook {
namespace {

// An endpoint on loopback: answers `fail_first` requests with 500, then 200, and keeps each
// request (head and body).
class Endpoint {
 public:
  explicit Endpoint(int fail_first) : fail_left_(fail_first) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Endpoint() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

  struct Request {
    std::string head, body;
    int status = 0;
  };
  // Waits until `n` requests were answered 200.
  std::vector<Request> WaitForAccepted(size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(30), [&] { return accepted_ >= n; });
    return requests_;
  }

 private:
  void Serve() {
    while (true) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[8192];
      size_t want = std::string::npos;
      while (in.size() < want) {
        const ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        const size_t end = in.find("\r\n\r\n");
        if (end != std::string::npos && want == std::string::npos) {
          const size_t at = in.find("Content-Length: ");
          size_t length = 0;
          if (at != std::string::npos &&
              absl::SimpleAtoi(in.substr(at + 16, in.find("\r\n", at) - at - 16), &length)) {
            want = end + 4 + length;
          }
        }
      }
      Request r;
      const size_t end = in.find("\r\n\r\n");
      r.head = in.substr(0, end);
      r.body = end == std::string::npos ? "" : in.substr(end + 4);
      r.status = fail_left_-- > 0 ? 500 : 200;
      const std::string answer =
          absl::StrCat("HTTP/1.1 ", r.status, " X\r\nContent-Length: 0\r\n\r\n");
      ::write(c, answer.data(), answer.size());
      ::close(c);
      std::lock_guard<std::mutex> lock(mutex_);
      if (r.status == 200) ++accepted_;
      requests_.push_back(std::move(r));
      changed_.notify_all();
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> fail_left_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Request> requests_;
  size_t accepted_ = 0;
};

std::string HeaderOf(const std::string& head, const std::string& name) {
  const size_t at = head.find(absl::StrCat("\r\n", name, ": "));
  if (at == std::string::npos) return "";
  const size_t start = at + name.size() + 4;
  return head.substr(start, head.find("\r\n", start) - start);
}

// The backlog once it reaches 0 (or after 10 s): the sender removes a batch, and counts it
// off, only after the endpoint answered it.
int64_t BacklogSettled(const WebhookQueue& queue) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (queue.backlog(0) != 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  return queue.backlog(0);
}

class WebhookQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = queue::TempPath("webhooks");
    auto spool = queue::Spool::Open(path_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
  }

  config::WebhookConfig Hook(uint16_t port) {
    config::WebhookConfig c;
    c.name = "platform";
    c.url = absl::StrCat("http://127.0.0.1:", port, "/events");
    c.events = {"Delivery", "Bounce"};
    c.batch_size = 3;
    c.max_batch_delay = absl::Milliseconds(50);
    c.hmac_secret = "a webhook secret";
    c.timeout = absl::Seconds(5);
    return c;
  }

  void Emit(events::EventSink& sink, events::EventType type, const std::string& recipient,
            const std::string& metadata = "") {
    const smtp::Reply reply = smtp::MakeReply(250, "2.0.0", "ok");
    events::RecipientEvent e;
    e.type = type;
    e.queue_id = "00000000000000aa";
    e.recipient = recipient;
    e.reply = &reply;
    e.metadata = metadata;
    sink.OnEvent(e);
  }

  std::string path_;
  std::unique_ptr<queue::Spool> spool_;
  metrics::EngineMetrics metrics_{1};
};

TEST_F(WebhookQueueTest, EventsGoInOrderSignedInBatchesAndAFailureIsRetried) {
  Endpoint endpoint(/*fail_first=*/1);
  auto queue = WebhookQueue::Start({Hook(endpoint.port())}, spool_.get(), &metrics_);
  ASSERT_TRUE(queue.ok()) << queue.status();
  for (int i = 0; i < 5; ++i) {
    Emit(**queue, events::EventType::kReception, absl::StrCat("r", i, "@x.test"));  // not chosen
    Emit(**queue, i % 2 ? events::EventType::kBounce : events::EventType::kDelivery,
         absl::StrCat("r", i, "@x.test"), absl::StrCat("{\"n\":", i, "}"));
  }
  const std::vector<Endpoint::Request> requests = endpoint.WaitForAccepted(2);
  ASSERT_GE(requests.size(), 3u) << "a refused batch, then two accepted";
  EXPECT_EQ(requests[0].status, 500);
  std::string all;
  for (size_t i = 1; i < requests.size(); ++i) {
    const Endpoint::Request& r = requests[i];
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(HeaderOf(r.head, "X-Volley-Signature"),
              absl::StrCat("sha256=", SignBody("a webhook secret", r.body)));
    EXPECT_EQ(HeaderOf(r.head, "Content-Type"), "application/json");
    EXPECT_TRUE(absl::StartsWith(r.body, "[{\"type\":")) << r.body;
    all += r.body;
  }
  // The refused batch came again first; every event once, in order, none of the Receptions.
  EXPECT_EQ(requests[1].body, requests[0].body);
  EXPECT_EQ(HeaderOf(requests[1].head, "X-Volley-Batch"), "1");
  size_t at = 0;
  for (int i = 0; i < 5; ++i) {
    const size_t next = all.find(absl::StrCat("\"recipient\":\"r", i, "@x.test\""), at);
    ASSERT_NE(next, std::string::npos) << i << ": " << all;
    at = next;
  }
  EXPECT_FALSE(absl::StrContains(all, "\"type\":\"Reception\""));
  // Each event carries its message's metadata, as the delivery log's record does.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(absl::StrContains(all, absl::StrCat("\"meta\":{\"n\":", i, "}}"))) << i << all;
  }
  EXPECT_EQ(BacklogSettled(**queue), 0);
}

// The queue is the cursor: events the endpoint never took survive a restart, and the numbering
// goes on after them.
TEST_F(WebhookQueueTest, WhatTheEndpointDidNotTakeSurvivesARestart) {
  {
    Endpoint down(/*fail_first=*/1000);
    auto queue = WebhookQueue::Start({Hook(down.port())}, spool_.get(), &metrics_);
    ASSERT_TRUE(queue.ok());
    for (int i = 0; i < 4; ++i) {
      Emit(**queue, events::EventType::kDelivery, absl::StrCat("d", i, "@x.test"));
    }
    (*queue)->Flush();
    EXPECT_EQ((*queue)->backlog(0), 4);
  }
  Endpoint up(/*fail_first=*/0);
  metrics::EngineMetrics fresh(1);
  auto queue = WebhookQueue::Start({Hook(up.port())}, spool_.get(), &fresh);
  ASSERT_TRUE(queue.ok());
  Emit(**queue, events::EventType::kDelivery, "after@x.test");
  const std::vector<Endpoint::Request> requests = up.WaitForAccepted(2);
  ASSERT_EQ(requests.size(), 2u);
  // The four left from before were counted at start: the count comes back to 0, not -4.
  EXPECT_EQ(BacklogSettled(**queue), 0);
  EXPECT_EQ(HeaderOf(requests[0].head, "X-Volley-Batch"), "1");
  EXPECT_EQ(HeaderOf(requests[1].head, "X-Volley-Batch"), "4");
  EXPECT_TRUE(absl::StrContains(requests[1].body, "after@x.test"));
  // A webhook removed from the config leaves nothing behind.
  queue->reset();
  metrics::EngineMetrics third(1);
  config::WebhookConfig other = Hook(up.port());
  other.name = "other";
  auto renamed = WebhookQueue::Start({other}, spool_.get(), &third);
  ASSERT_TRUE(renamed.ok());
  EXPECT_TRUE(spool_->ScanWebhookRecords("", "", 10)->empty());
}

}  // namespace
}  // namespace volley::webhook
