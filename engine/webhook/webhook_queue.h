// [[webhook]]: delivery events pushed to the platform. Every shard's events pass through this
// sink; each webhook's chosen record types are formatted as log records (the delivery log's
// shape) and written, in the order they happened, to the webhook's queue in the spool's
// `webhooks` column family by one writer thread; each webhook's WebhookSender drains its
// queue to the endpoint. Records of webhooks no longer configured are dropped at start.
#ifndef VOLLEY_ENGINE_WEBHOOK_WEBHOOK_QUEUE_H_
#define VOLLEY_ENGINE_WEBHOOK_WEBHOOK_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/config/config_types.h"
#include "engine/events/event.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/webhook/webhook_sender.h"
#include "queue/spool.h"

namespace volley::webhook {

// Thread: OnEvent from any thread (the shards); the writes on the queue's own thread.
class WebhookQueue final : public events::EventSink {
 public:
  // Reads each webhook's queue (where its numbering goes on, how many wait), drops the records
  // of webhooks no longer configured, and starts the writer and the senders.
  static absl::StatusOr<std::unique_ptr<WebhookQueue>> Start(
      const std::vector<config::WebhookConfig>& webhooks, queue::Spool* spool,
      metrics::EngineMetrics* metrics);
  // Writes what is queued, then stops the senders (each after its request in flight).
  ~WebhookQueue() override;

  void OnEvent(const events::RecipientEvent& event) override;

  // Blocks until every event handed over before the call is in the spool (tests).
  void Flush();

  int64_t backlog(size_t webhook) const { return hooks_[webhook].sender->backlog(); }

 private:
  struct Hook {
    std::unique_ptr<WebhookSender> sender;
    absl::flat_hash_set<std::string> events;  // record type names
    uint64_t next_seq = 1;                    // writer thread
  };
  struct Pending {
    size_t hook;
    std::string record;
  };

  WebhookQueue(queue::Spool* spool) : spool_(spool) {}
  void Run();

  queue::Spool* const spool_;
  std::vector<Hook> hooks_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::vector<Pending> pending_;
  uint64_t handed_ = 0;         // events handed over (under mutex_)
  uint64_t written_count_ = 0;  // of which in the spool (under mutex_)
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace volley::webhook

#endif  // VOLLEY_ENGINE_WEBHOOK_WEBHOOK_QUEUE_H_
