#include "engine/delivery/delivery_shard_fixture.h"

#include <cstdlib>
#include <filesystem>
#include <future>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace volley::delivery {

void RecordingSink::OnEvent(const events::RecipientEvent& e) {
  std::lock_guard<std::mutex> lock(mutex_);
  seen_.push_back(Seen{e.type, std::string(e.recipient), e.reply->code,
                       e.reply->enhanced ? e.reply->enhanced->ToString() : "", e.reply->Text(),
                       e.num_attempts, e.classification, e.expired, std::string(e.metadata)});
}
size_t RecordingSink::Count() {
  std::lock_guard<std::mutex> lock(mutex_);
  return seen_.size();
}

std::vector<Seen> RecordingSink::Take() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Seen> out;
  out.swap(seen_);
  return out;
}

smtp::RecipientOutcome Reply(int code, absl::string_view enhanced, absl::string_view text) {
  return smtp::RecipientOutcome{smtp::MakeReply(code, enhanced, text), "RCPT TO:<x>", false};
}

smtp::RecipientOutcome TooMany() {
  smtp::RecipientOutcome outcome = Reply(452, "4.5.3", "too many recipients");
  outcome.deferred = true;
  return outcome;
}

void DeliveryShardTest::SetUp() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/delivery-shard-",
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir_);
  absl::StatusOr<std::unique_ptr<queue::Spool>> spool = queue::Spool::Open(dir_);
  ASSERT_TRUE(spool.ok()) << spool.status();
  spool_ = *std::move(spool);
  writer_ = std::make_unique<queue::SpoolWriter>(spool_.get(), nullptr, clock_);
  io_pool_ = std::make_unique<WorkerPool>(1);
  metrics_ = std::make_unique<metrics::EngineMetrics>(1);
  config_ = config::Config::Defaults();
  config_.delivery.retry_initial = absl::Minutes(5);
  config_.delivery.retry_max = absl::Hours(1);
  config_.delivery.max_age = absl::Hours(24);
  config_.shaping.defaults.connection_limit = 1;
  AdjustConfig();
  context_.config = &config_;
  context_.spool = spool_.get();
  context_.writer = writer_.get();
  context_.events = &sink_;
  context_.metrics = metrics_.get();
  context_.clock = &clock_;
  context_.io_pool = io_pool_.get();
  // Every retry stays in memory, in the shard's Scheduler.
  context_.memory_horizon = absl::Hours(48);
  context_.notice_window = absl::Milliseconds(10);
  ASSERT_TRUE(shard_.Start().ok());
  router_ = std::make_unique<DeliveryRouter>(std::vector<Shard*>{&shard_});
  OnShard([this] {
    auto resolver = std::make_unique<dns::FakeResolver>(shard_.loop());
    resolver_ = resolver.get();
    resolver_->SetHosts("example.test", {{"mx1.example.test", 10, {"192.0.2.1"}},
                                         {"mx2.example.test", 20, {"192.0.2.2"}}});
    delivery_ = std::make_unique<DeliveryShard>(&shard_, context_, router_.get(),
                                                std::move(resolver), fakes_.Factory());
    router_->Attach(0, delivery_.get());
    // Notices are stored as the Injector stores them: with the recipients they complete.
    delivery_->SetNoticeStore(
        [this](NoticeMessage notice, absl::AnyInvocable<void(absl::Status)> done) {
          queue::MessageMeta meta;
          meta.id = ++last_notice_id_;
          meta.created = clock_.Now();
          meta.size = notice.content.size();
          meta.num_recipients = 1;
          queue::RecipientRecord to;
          to.address = notice.to;
          notices_.push_back(notice.content);
          writer_->Insert(
              meta, std::make_shared<const std::string>(std::move(notice.content)), {to},
              [this, done = std::move(done)](absl::Status status) mutable {
                shard_.Post([done = std::move(done), status]() mutable { done(status); });
              },
              nullptr, std::move(notice.completes));
        });
  });
}

void DeliveryShardTest::TearDown() {
  bool done = false;
  OnShard([&] { delivery_->Shutdown(absl::Milliseconds(1), [&done] { done = true; }); });
  ASSERT_TRUE(WaitFor([&] {
    fakes_.CloseQuitting();
    return done;
  }));
  OnShard([this] {
    router_->Detach(0);
    delivery_.reset();
  });
  shard_.Post([this] { shard_.CloseMailbox(); });
  shard_.Join();
  writer_->Stop();
}

bool DeliveryShardTest::WaitFor(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    bool reached = false;
    OnShard([&] { reached = done(); });
    if (reached) return true;
  }
  return false;
}

bool DeliveryShardTest::HasTransaction(FakeConnection* c) {
  return WaitFor([c] { return c->transaction().has_value(); });
}

queue::MessageId DeliveryShardTest::Inject(std::vector<std::string> recipients, std::string tenant,
                                           std::string campaign, std::string metadata) {
  queue::MessageMeta meta;
  meta.id = ++last_id_;
  meta.sender = "sender@origin.test";
  meta.created = clock_.Now();
  meta.tenant = std::move(tenant);
  meta.campaign = std::move(campaign);
  meta.metadata = std::move(metadata);
  const std::string content = "Subject: test\r\n\r\nbody\r\n";
  meta.size = content.size();
  meta.num_recipients = static_cast<uint32_t>(recipients.size());
  std::vector<queue::RecipientRecord> records;
  for (size_t i = 0; i < recipients.size(); ++i) {
    queue::RecipientRecord record;
    record.index = static_cast<uint32_t>(i);
    record.address = recipients[i];
    records.push_back(record);
  }
  auto body = std::make_shared<const std::string>(content);
  std::promise<absl::Status> stored;
  writer_->Insert(meta, body, records, [&stored](absl::Status s) { stored.set_value(s); });
  EXPECT_TRUE(stored.get_future().get().ok());
  std::shared_ptr<const MessageInfo> info = MakeMessageInfo(meta);
  std::vector<RecipientPtr> queued;
  for (queue::RecipientRecord& record : records) {
    queued.push_back(MakeRecipient(info, body, std::move(record)));
  }
  OnShard([&] { delivery_->Enqueue(std::move(queued)); });
  return meta.id;
}

FakeConnection* DeliveryShardTest::Connection(int n) {
  if (!WaitFor([&] { return fakes_.made() > n; })) return nullptr;
  FakeConnection* found = nullptr;
  OnShard([&] {
    if (static_cast<int>(fakes_.open().size()) > 0) found = fakes_.open().back();
  });
  return found;
}

std::vector<queue::RecipientRecord> DeliveryShardTest::Spooled(queue::MessageId id) {
  writer_->Flush();
  absl::StatusOr<std::vector<queue::RecipientRecord>> records = spool_->ReadRecipients(id);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *records : std::vector<queue::RecipientRecord>{};
}

std::string DeliveryShardTest::NoticeFor(queue::MessageId id) {
  std::string found;
  WaitFor([&] {
    for (const std::string& notice : notices_) {
      if (absl::StrContains(notice, queue::FormatQueueId(id))) found = notice;
    }
    return !found.empty();
  });
  return found;
}

void DeliveryShardTest::RunDue() {
  OnShard([this] { delivery_->scheduler_for_test().RunDue(); });
}

int64_t DeliveryShardTest::Ready() {
  int64_t ready = 0;
  OnShard([&] {
    metrics::ScrapeTotals totals;
    delivery_->Collect(&totals);
    ready = totals.queue[static_cast<size_t>(metrics::QueueState::kReady)];
  });
  return ready;
}

}  // namespace volley::delivery
