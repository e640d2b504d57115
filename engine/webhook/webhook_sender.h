// One webhook's delivery: a thread that reads the webhook's queue in the spool (the records
// WebhookQueue wrote, in order), POSTs them as a JSON array in batches to the endpoint, and
// removes them only once the endpoint has answered 2xx. The queue is the durable cursor: a
// failing endpoint or a restart loses nothing, and after a crash at most the batch in flight is
// sent again (it carries the same X-Volley-Batch id, for receivers that deduplicate).
//
// Requests: `Content-Type: application/json`, `X-Volley-Webhook: NAME`, `X-Volley-Batch: N`
// (the sequence number of its first event), and with hmac_secret `X-Volley-Signature:
// sha256=HEX`, the HMAC-SHA256 of the body. A failure (no connection, a timeout, a non-2xx) is
// retried after 1 s, doubling to at most 60 s.
#ifndef VOLLEY_ENGINE_WEBHOOK_WEBHOOK_SENDER_H_
#define VOLLEY_ENGINE_WEBHOOK_WEBHOOK_SENDER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/config/config_types.h"
#include "engine/http/http_client.h"
#include "engine/metrics/engine_metrics.h"
#include "queue/spool.h"

namespace volley::webhook {

// The key prefix of a webhook's records: its name and a NUL.
std::string QueuePrefix(absl::string_view name);
// Its record `seq`'s key: the prefix and BE64(seq), so that keys sort as the events came.
std::string QueueKey(absl::string_view name, uint64_t seq);

// HMAC-SHA256 of `body` under `secret`, lower-case hex (the X-Volley-Signature value's digest).
std::string SignBody(absl::string_view secret, absl::string_view body);

// Thread: Notify, Stop and the accessors from any thread; the sending on its own thread.
class WebhookSender {
 public:
  // `spool` and the series outlive the sender; the backlog gauge is the count of queued
  // records itself (the queue adds, the sender subtracts what it removes).
  WebhookSender(config::WebhookConfig config, http::HttpUrl url, queue::Spool* spool,
                metrics::EngineMetrics::WebhookSeries series);
  ~WebhookSender();  // Stop()s

  void Start();
  // `n` records were added to the queue.
  void Notify(int64_t n);
  // Ends the thread after the request in flight (at most `timeout`).
  void Stop();

  const config::WebhookConfig& config() const { return config_; }
  int64_t backlog() const { return series_.backlog->Value(); }
  // At start, before Start(): the records already queued.
  void set_backlog(int64_t n) { series_.backlog->Set(n); }

 private:
  void Run();
  enum class Sent { kAccepted, kFailed, kNothing };
  // One batch: accepted by the endpoint and removed, failed, or nothing was queued.
  Sent SendBatch();

  const config::WebhookConfig config_;
  const http::HttpUrl url_;
  queue::Spool* const spool_;
  const metrics::EngineMetrics::WebhookSeries series_;
  const std::string prefix_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace volley::webhook

#endif  // VOLLEY_ENGINE_WEBHOOK_WEBHOOK_SENDER_H_
