#include "engine/delivery/delivery_notices.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "engine/runtime/shard.h"
#include "gtest/gtest.h"
#include "queue/spool.h"
#include "queue/test_temp_path.h"

namespace volley::delivery {
namespace {

using bounce::DsnAction;

RecipientPtr Recipient(const std::string& sender, const std::string& notify) {
  auto message = std::make_shared<MessageInfo>();
  message->id = 7;
  message->queue_id = queue::FormatQueueId(7);
  message->sender = sender;
  auto r = std::make_unique<QueuedRecipient>();
  r->message = message;
  r->address = "r@dest.test";
  r->dsn_notify = notify;
  return r;
}

TEST(NoticeWanted, FollowsNotifyAndNeverAnswersTheNullSender) {
  const NoticePolicy on;
  struct Case {
    std::string sender, notify;
    bool failed, delayed, relayed;
  };
  const Case cases[] = {
      {"s@x.test", "", true, true, false},  // RFC 3461 4.1: failures and delays by default
      {"s@x.test", "NEVER", false, false, false},
      {"s@x.test", "SUCCESS", false, false, true},
      {"s@x.test", "failure,delay", true, true, false},
      {"s@x.test", "SUCCESS,FAILURE", true, false, true},
      {"", "", false, false, false},  // a notice is never answered with a notice
      {"", "SUCCESS,FAILURE,DELAY", false, false, false},
  };
  for (const Case& c : cases) {
    RecipientPtr r = Recipient(c.sender, c.notify);
    SCOPED_TRACE(c.sender + " NOTIFY=" + c.notify);
    EXPECT_EQ(NoticeWanted(on, *r, DsnAction::kFailed), c.failed);
    EXPECT_EQ(NoticeWanted(on, *r, DsnAction::kDelayed), c.delayed);
    EXPECT_EQ(NoticeWanted(on, *r, DsnAction::kRelayed), c.relayed);
  }
  RecipientPtr r = Recipient("s@x.test", "");
  EXPECT_FALSE(NoticeWanted(NoticePolicy{.enabled = false}, *r, DsnAction::kFailed));
  EXPECT_FALSE(
      NoticeWanted(NoticePolicy{.delay_after = absl::ZeroDuration()}, *r, DsnAction::kDelayed));
  EXPECT_TRUE(
      NoticeWanted(NoticePolicy{.delay_after = absl::ZeroDuration()}, *r, DsnAction::kFailed));
}

TEST(DsnStatusOf, TheEnhancedCodeOrTheClassDefault) {
  EXPECT_EQ(DsnStatusOf(550, std::string("5.1.1")), "5.1.1");
  EXPECT_EQ(DsnStatusOf(550, std::nullopt), "5.0.0");
  EXPECT_EQ(DsnStatusOf(451, std::nullopt), "4.0.0");
  EXPECT_EQ(DsnStatusOf(250, std::nullopt), "2.0.0");
}

// A collector on a real loop, with a real spool for the bodies it reads, storing into a list.
class DeliveryNoticesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spool = queue::Spool::Open(queue::TempPath("notices"));
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    ASSERT_TRUE(shard_.Start().ok());
    ASSERT_TRUE(shard_
                    .Call([this] {
                      notices_ = std::make_unique<DeliveryNotices>(DeliveryNotices::Options{
                          .loop = shard_.loop(),
                          .spool = spool_.get(),
                          .io_pool = &pool_,
                          .post = [this](Task t) { return shard_.Post(std::move(t)); },
                          .hostname = "mta.test",
                          .max_age = absl::Hours(24),
                          .window = absl::Milliseconds(200),
                          .retry = absl::Milliseconds(100),
                      });
                      notices_->set_store([this](NoticeMessage m,
                                                 absl::AnyInvocable<void(absl::Status)> done) {
                        std::lock_guard<std::mutex> lock(mutex_);
                        const bool fail = failures_left_ > 0;
                        if (fail) --failures_left_;
                        if (!fail) stored_.push_back(std::move(m));
                        changed_.notify_all();
                        done(fail ? absl::ResourceExhaustedError("spool full") : absl::OkStatus());
                      });
                      return absl::OkStatus();
                    })
                    .ok());
  }
  void TearDown() override {
    ASSERT_TRUE(shard_
                    .Call([this] {
                      notices_.reset();
                      shard_.CloseMailbox();
                      return absl::OkStatus();
                    })
                    .ok());
    shard_.Join();
  }

  void Add(std::shared_ptr<const MessageInfo> message, std::string address, DsnAction action,
           std::shared_ptr<const std::string> body, uint32_t index) {
    ASSERT_TRUE(shard_
                    .Call([&] {
                      NoticeItem item;
                      item.message = message;
                      item.body = body;
                      item.recipient.address = address;
                      item.recipient.action = action;
                      item.recipient.status = "5.1.1";
                      if (action != DsnAction::kDelayed) {
                        item.completes = queue::RecipientRef{message->id, index, absl::Time()};
                      }
                      notices_->Add(std::move(item));
                      return absl::OkStatus();
                    })
                    .ok());
  }

  bool WaitForStored(size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return stored_.size() >= n; });
  }

  static std::shared_ptr<const MessageInfo> Message(queue::MessageId id) {
    auto m = std::make_shared<MessageInfo>();
    m->id = id;
    m->queue_id = queue::FormatQueueId(id);
    m->sender = "s@sender.test";
    m->created = absl::Now();
    m->tenant = "acme";
    return m;
  }

  std::unique_ptr<queue::Spool> spool_;
  WorkerPool pool_{1};
  Shard shard_{0};
  std::unique_ptr<DeliveryNotices> notices_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<NoticeMessage> stored_;
  int failures_left_ = 0;
};

TEST_F(DeliveryNoticesTest, TheRecipientsOfOneMessageShareOneNotice) {
  auto body = std::make_shared<const std::string>("Subject: hi\r\n\r\nbody\r\n");
  const auto message = Message(11);
  Add(message, "a@dest.test", DsnAction::kFailed, body, 0);
  Add(message, "b@other.test", DsnAction::kFailed, nullptr, 1);
  Add(Message(12), "c@dest.test", DsnAction::kFailed, body, 0);
  ASSERT_TRUE(WaitForStored(2));
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(stored_.size(), 2u);
  const NoticeMessage* first = nullptr;
  for (const NoticeMessage& m : stored_) {
    if (absl::StrContains(m.content, queue::FormatQueueId(11))) first = &m;
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->to, "s@sender.test");
  EXPECT_EQ(first->tenant, "acme");
  EXPECT_TRUE(absl::StrContains(first->content, "Final-Recipient: rfc822; a@dest.test"));
  EXPECT_TRUE(absl::StrContains(first->content, "Final-Recipient: rfc822; b@other.test"));
  EXPECT_TRUE(absl::StrContains(first->content, "Subject: hi"));
  ASSERT_EQ(first->completes.size(), 2u);
  EXPECT_EQ(first->completes[0].index, 0u);
  EXPECT_EQ(first->completes[1].index, 1u);
}

TEST_F(DeliveryNoticesTest, AStoreThatFailsIsTriedAgainWithWhatCameMeanwhile) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failures_left_ = 1;
  }
  auto body = std::make_shared<const std::string>("Subject: hi\r\n\r\nbody\r\n");
  const auto message = Message(21);
  Add(message, "a@dest.test", DsnAction::kFailed, body, 0);
  ASSERT_TRUE(WaitForStored(1));
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(failures_left_, 0) << "the first store failed";
  ASSERT_EQ(stored_.size(), 1u);
  EXPECT_EQ(stored_[0].completes.size(), 1u);
  EXPECT_TRUE(absl::StrContains(stored_[0].content, "a@dest.test"));
}

// Without the body at hand (a recipient read back from the spool), the original comes from the
// spool: the message is still there, since its reported recipients go only with the notice.
TEST_F(DeliveryNoticesTest, TheOriginalIsReadFromTheSpoolWhenNotInMemory) {
  queue::Spool::Batch batch = spool_->NewBatch();
  queue::MessageMeta meta;
  meta.id = 31;
  meta.sender = "s@sender.test";
  queue::RecipientRecord record;
  record.address = "a@dest.test";
  batch.PutMessage(meta, "Subject: from the spool\r\n\r\nbody\r\n", {record});
  ASSERT_TRUE(spool_->Write(&batch, true).ok());
  Add(Message(31), "a@dest.test", DsnAction::kDelayed, nullptr, 0);
  ASSERT_TRUE(WaitForStored(1));
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_TRUE(absl::StrContains(stored_[0].content, "Subject: from the spool"));
  EXPECT_TRUE(absl::StrContains(stored_[0].content, "Action: delayed"));
  EXPECT_TRUE(absl::StrContains(stored_[0].content, "Will-Retry-Until: "));
  EXPECT_TRUE(stored_[0].completes.empty()) << "a delay notice removes nothing";
}

// A failure that comes while the same recipient's delay notice still waits replaces it: the
// recipient is reported once, as failed.
TEST_F(DeliveryNoticesTest, AFailureReplacesTheWaitingDelayNoticeOfItsRecipient) {
  auto body = std::make_shared<const std::string>("Subject: hi\r\n\r\nbody\r\n");
  const auto message = Message(41);
  Add(message, "a@dest.test", DsnAction::kDelayed, body, 0);
  Add(message, "a@dest.test", DsnAction::kFailed, body, 0);
  ASSERT_TRUE(WaitForStored(1));
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_FALSE(absl::StrContains(stored_[0].content, "Action: delayed")) << stored_[0].content;
  EXPECT_TRUE(absl::StrContains(stored_[0].content, "Action: failed"));
  EXPECT_EQ(stored_[0].completes.size(), 1u);
}

}  // namespace
}  // namespace volley::delivery
