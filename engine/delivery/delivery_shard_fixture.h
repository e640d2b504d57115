// The fixture of the delivery shard's tests: one DeliveryShard on its own loop, driven by hand
// with a SimulatedClock, a FakeResolver and fake connections, over a real spool. Time moves
// only when a test says so; nothing sleeps.
#ifndef VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_FIXTURE_H_
#define VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_FIXTURE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dns/fake_resolver.h"
#include "engine/delivery/delivery_shard.h"
#include "engine/delivery/fake_connection.h"
#include "gtest/gtest.h"

namespace volley::delivery {

using events::EventType;

// What a test reads back of each event.
struct Seen {
  EventType type;
  std::string recipient;
  int code = 0;
  std::string enhanced;
  std::string text;
  uint32_t attempts = 0;
  std::optional<bounce::BounceClass> classification;
  bool expired = false;
  std::string metadata;
};

class RecordingSink final : public events::EventSink {
 public:
  void OnEvent(const events::RecipientEvent& e) override;
  std::vector<Seen> Take();
  size_t Count();

 private:
  std::mutex mutex_;
  std::vector<Seen> seen_;
};

smtp::RecipientOutcome Reply(int code, absl::string_view enhanced, absl::string_view text);
// 452 4.5.3: the recipient goes in the next transaction.
smtp::RecipientOutcome TooMany();

class DeliveryShardTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // A test's changes to config_ (and context_) before the shard is made.
  virtual void AdjustConfig() {}

  // Runs `fn` on the shard's loop and waits for it.
  template <typename Fn>
  void OnShard(Fn fn) {
    ASSERT_TRUE(shard_
                    .Call([&fn] {
                      fn();
                      return absl::OkStatus();
                    })
                    .ok());
  }

  // Lets the loop turn (each call is one trip through it) until `done` holds on it, or ten
  // seconds pass. Body reads happen on a worker thread, so some waits span several turns.
  bool WaitFor(const std::function<bool()>& done);
  // Waits until `c` carries a transaction (its message's body may still be being read).
  bool HasTransaction(FakeConnection* c);
  // Stores a message for `recipients` in the spool and hands its recipients to the shard.
  // `tenant` and `campaign` tag it; `metadata` is its JSON metadata.
  queue::MessageId Inject(std::vector<std::string> recipients, std::string tenant = "",
                          std::string campaign = "", std::string metadata = "");
  // The connection the shard opened `n`-th (0-based), once it exists.
  FakeConnection* Connection(int n);
  // The recipient's record in the spool, once the writer has written what it was given.
  std::vector<queue::RecipientRecord> Spooled(queue::MessageId id);
  void RunDue();
  // The shard's ready recipients (a suspension's held ones among them), as a scrape counts.
  int64_t Ready();
  // The delivery notice reporting message `id`, once stored (with the recipients it completes
  // removed from the spool); "" after ten seconds without one.
  std::string NoticeFor(queue::MessageId id);

  std::string dir_;
  SimulatedClock clock_;
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<queue::SpoolWriter> writer_;
  std::unique_ptr<WorkerPool> io_pool_;
  std::unique_ptr<metrics::EngineMetrics> metrics_;
  config::Config config_;
  EngineContext context_;
  RecordingSink sink_;
  Shard shard_{0};
  std::unique_ptr<DeliveryRouter> router_;
  dns::FakeResolver* resolver_ = nullptr;  // owned by delivery_
  FakeConnections fakes_;                  // loop thread
  std::unique_ptr<DeliveryShard> delivery_;
  queue::MessageId last_id_ = 1000;
  // The notices the shard stored (loop thread), as ids 1,000,000 and up.
  std::vector<std::string> notices_;
  queue::MessageId last_notice_id_ = 1000000;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_DELIVERY_SHARD_FIXTURE_H_
