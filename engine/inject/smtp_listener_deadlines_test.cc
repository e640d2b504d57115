// SmtpListener's protection against slow and unwelcome clients, over real sockets on loopback:
// the command and data deadlines that a trickling client cannot stretch, the session deadline,
// and the admission hook.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/inject/smtp_listener.h"
#include "engine/inject/smtp_listener_test_fixture.h"
#include "engine/smtp/local_replies.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"

namespace volley::inject {
namespace {

using test_support::RawSmtpClient;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// The reasons the listener reported, from its loop thread.
struct Refusals {
  std::mutex mutex;
  std::vector<std::string> reasons;
  std::function<void(absl::string_view)> Callback() {
    return [this](absl::string_view reason) {
      std::lock_guard<std::mutex> lock(mutex);
      reasons.emplace_back(reason);
    };
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mutex);
    return reasons;
  }
};

// Sends `bytes` one octet every `gap` on its own thread until told to stop or done (bounded by
// the length of `bytes`): a client that is never idle long enough for an idle timer to fire.
class Trickle {
 public:
  Trickle(RawSmtpClient* client, std::string bytes, absl::Duration gap)
      : thread_([this, client, bytes = std::move(bytes), gap] {
          for (char c : bytes) {
            if (stop_.load()) return;
            if (!client->SendRaw(absl::string_view(&c, 1))) return;
            absl::SleepFor(gap);
          }
        }) {}
  ~Trickle() {
    stop_.store(true);
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A listener on its own loop, with the refusals it reports, and one client that has read the
// greeting.
class DeadlinesTest : public ::testing::Test {
 protected:
  ~DeadlinesTest() override {
    client_.reset();
    if (listener_ != nullptr) CloseListener(loop_, listener_);
    loop_.StopAndJoin();
  }

  void Open(SmtpListenerOptions options) {
    options.on_refusal = refusals_.Callback();
    listener_ = CreateListener(loop_, options, &handler_);
    ASSERT_NE(listener_, nullptr);
    client_ = RawSmtpClient::Connect("127.0.0.1", listener_->port());
    ASSERT_NE(client_, nullptr);
    EXPECT_THAT(client_->ReadFinal(), StartsWith("220 "));
  }

  // EHLO, MAIL, RCPT and DATA: the client may send the content.
  void StartData() {
    client_->Ehlo();
    EXPECT_THAT(client_->Command("MAIL FROM:<a@example.com>"), StartsWith("250 "));
    EXPECT_THAT(client_->Command("RCPT TO:<b@example.net>"), StartsWith("250 "));
    EXPECT_THAT(client_->Command("DATA"), StartsWith("354 "));
  }

  LoopThread loop_;
  RecordingHandler handler_;
  Refusals refusals_;
  std::unique_ptr<SmtpListener> listener_;
  std::unique_ptr<RawSmtpClient> client_;
};

TEST_F(DeadlinesTest, ATricklingCommandLineIsCutOffDespiteConstantActivity) {
  SmtpListenerOptions options;
  options.command_timeout = absl::Milliseconds(400);
  Open(options);
  const absl::Time start = absl::Now();
  {
    // A byte every 50 ms: the line would take 10 s to complete.
    Trickle trickle(client_.get(), "EHLO " + std::string(195, 'x'), absl::Milliseconds(50));
    EXPECT_THAT(client_->ReadFinal(), StartsWith("421 4.4.2 "));
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(350));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_TRUE(client_->ReadsEof());
  EXPECT_THAT(refusals_.Get(), ElementsAre("command_timeout"));
}

TEST_F(DeadlinesTest, CommandsInTimeKeepTheSessionAlive) {
  SmtpListenerOptions options;
  options.command_timeout = absl::Milliseconds(300);
  Open(options);
  // Each command comes well within the deadline; together they take far longer than it.
  for (int i = 0; i < 8; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    EXPECT_EQ(client_->Command("NOOP"), "250 2.0.0 Ok") << i;
  }
}

TEST_F(DeadlinesTest, DataBelowTheMinimumRateIsCutOffAndNothingIsKept) {
  SmtpListenerOptions options;
  options.command_timeout = absl::Milliseconds(400);
  options.min_data_rate = 1000;  // octets per second
  Open(options);
  StartData();
  {
    // 20 octets a second, never idle for more than 50 ms.
    Trickle trickle(client_.get(), std::string(400, 'y'), absl::Milliseconds(50));
    EXPECT_THAT(client_->ReadFinal(), AllOf(StartsWith("421 4.4.2 "), HasSubstr("too slowly")));
  }
  EXPECT_TRUE(client_->ReadsEof());
  EXPECT_THAT(refusals_.Get(), ElementsAre("data_rate"));
  std::lock_guard<std::mutex> lock(handler_.mutex);
  EXPECT_TRUE(handler_.envelopes.empty());
}

TEST_F(DeadlinesTest, DataAtAGoodRateMayTakeLongerThanTheCommandTimeout) {
  SmtpListenerOptions options;
  options.command_timeout = absl::Milliseconds(300);
  options.min_data_rate = 1000;
  Open(options);
  StartData();
  // 1,000 octets every 200 ms (5,000 a second) for 1.2 s: four times the command timeout.
  const std::string line = std::string(998, 'z') + "\r\n";
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(client_->Send(line));
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(client_->Command("."), "250 2.0.0 Ok: queued as M1");
  EXPECT_THAT(refusals_.Get(), IsEmpty());
}

TEST_F(DeadlinesTest, TheSessionDeadlineEndsTheSessionAtItsNextCommand) {
  SmtpListenerOptions options;
  options.session_timeout = absl::Milliseconds(300);
  Open(options);
  StartData();
  // The deadline passes mid-message: the message is finished first.
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_EQ(client_->Command("hello\r\n."), "250 2.0.0 Ok: queued as M1");
  EXPECT_THAT(client_->Command("NOOP"), AllOf(StartsWith("421 4.4.2 "), HasSubstr("session")));
  EXPECT_TRUE(client_->ReadsEof());
  EXPECT_THAT(refusals_.Get(), ElementsAre("session_timeout"));
}

TEST(SmtpListenerDeadlinesTest, AdmissionRefusesWithItsReplyAndCountsLeaves) {
  LoopThread loop;
  RecordingHandler handler;
  std::mutex mutex;
  std::vector<std::string> left;
  int admitted = 0;
  SmtpListenerOptions options;
  options.admit = [&](const std::string& peer) -> std::optional<smtp::Reply> {
    std::lock_guard<std::mutex> lock(mutex);
    if (admitted >= 1) {
      return smtp::MakeLocalReply(smtp::LocalReply::kIpConnectionLimit, "mx.test", peer);
    }
    ++admitted;
    return std::nullopt;
  };
  options.on_leave = [&](const std::string& peer) {
    std::lock_guard<std::mutex> lock(mutex);
    left.push_back(peer);
  };
  std::unique_ptr<SmtpListener> listener = CreateListener(loop, options, &handler);
  ASSERT_NE(listener, nullptr);
  auto first = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(first->ReadFinal(), StartsWith("220 "));
  auto second = RawSmtpClient::Connect("127.0.0.1", listener->port());
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->ReadFinal(), "421 4.7.0 mx.test Error: too many connections from 127.0.0.1");
  EXPECT_TRUE(second->ReadsEof());
  EXPECT_EQ(first->Command("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(first->ReadsEof());
  CloseListener(loop, listener);
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_THAT(left, ElementsAre("127.0.0.1"));  // the admitted one only
  }
  loop.StopAndJoin();
}

}  // namespace
}  // namespace volley::inject
