#include "engine/webhook/webhook_queue.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "engine/base/logging.h"
#include "engine/events/log_record.h"
#include "queue/encoding.h"

namespace volley::webhook {
namespace {

// Entries read per scan while looking the queues over at start.
constexpr size_t kScanPage = 4096;
// After a failed write, how long before the writer tries again.
constexpr absl::Duration kWriteRetry = absl::Milliseconds(200);

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookQueue>> WebhookQueue::Start(
    const std::vector<config::WebhookConfig>& webhooks, queue::Spool* spool,
    metrics::EngineMetrics* metrics) {
  std::unique_ptr<WebhookQueue> queue(new WebhookQueue(spool));
  absl::flat_hash_map<std::string, size_t> by_prefix;
  for (const config::WebhookConfig& config : webhooks) {
    absl::StatusOr<http::HttpUrl> url = http::ParseHttpUrl(config.url);
    if (!url.ok()) return url.status();  // (the config checked it)
    Hook hook;
    hook.events.insert(config.events.begin(), config.events.end());
    hook.sender = std::make_unique<WebhookSender>(config, *std::move(url), spool,
                                                  metrics->AddWebhook(config.name));
    by_prefix[QueuePrefix(config.name)] = queue->hooks_.size();
    queue->hooks_.push_back(std::move(hook));
  }
  // One pass over the column family: each queue's length and last number, and the records of
  // webhooks that are gone.
  std::vector<int64_t> counts(queue->hooks_.size(), 0);
  std::vector<std::string> orphans;
  std::string after;
  while (true) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> page =
        spool->ScanWebhookRecords("", after, kScanPage);
    if (!page.ok()) return page.status();
    for (const auto& [key, value] : *page) {
      const size_t nul = key.find('\0');
      auto it = nul == std::string::npos ? by_prefix.end() : by_prefix.find(key.substr(0, nul + 1));
      if (it == by_prefix.end()) {
        orphans.push_back(key);
        continue;
      }
      ++counts[it->second];
      absl::string_view seq_bytes = absl::string_view(key).substr(nul + 1);
      uint64_t seq = 0;
      if (queue::GetFixed64BE(&seq_bytes, &seq)) {
        Hook& hook = queue->hooks_[it->second];
        hook.next_seq = std::max(hook.next_seq, seq + 1);
      }
    }
    if (page->size() < kScanPage) break;
    after = page->back().first;
  }
  if (!orphans.empty()) {
    LOG(INFO) << "dropping " << orphans.size() << " queued events of webhooks no longer configured";
    if (absl::Status s = spool->WriteWebhookRecords({}, orphans); !s.ok()) return s;
  }
  for (size_t i = 0; i < queue->hooks_.size(); ++i) {
    queue->hooks_[i].sender->set_backlog(counts[i]);
    queue->hooks_[i].sender->Start();
  }
  queue->thread_ = std::thread([q = queue.get()] { q->Run(); });
  return queue;
}

WebhookQueue::~WebhookQueue() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  for (Hook& hook : hooks_) hook.sender->Stop();
}

void WebhookQueue::OnEvent(const events::RecipientEvent& event) {
  const absl::string_view type = events::EventTypeName(event.type);
  std::string record;  // formatted once, for every webhook that wants it
  for (size_t i = 0; i < hooks_.size(); ++i) {
    if (!hooks_[i].events.contains(type)) continue;
    if (record.empty()) {
      events::AppendLogRecord(event, &record);
      if (!record.empty() && record.back() == '\n') record.pop_back();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(Pending{i, record});
    ++handed_;
    if (pending_.size() == 1) wake_.notify_one();
  }
}

void WebhookQueue::Flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t target = handed_;
  written_.wait(lock, [&] { return written_count_ >= target; });
}

void WebhookQueue::Run() {
  std::vector<Pending> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) return;
      batch.swap(pending_);
    }
    // Numbered in the order the events came: the order each endpoint gets them in.
    std::vector<std::pair<std::string, std::string>> put;
    std::vector<int64_t> added(hooks_.size(), 0);
    put.reserve(batch.size());
    for (Pending& p : batch) {
      Hook& hook = hooks_[p.hook];
      put.emplace_back(QueueKey(hook.sender->config().name, hook.next_seq++), std::move(p.record));
      ++added[p.hook];
    }
    absl::Status written = spool_->WriteWebhookRecords(put, {});
    while (!written.ok()) {
      LOG_EVERY_N_SEC(ERROR, 10) << "webhook queue write failed (" << written << "); trying again";
      absl::SleepFor(kWriteRetry);
      written = spool_->WriteWebhookRecords(put, {});
    }
    for (size_t i = 0; i < hooks_.size(); ++i) {
      if (added[i] > 0) hooks_[i].sender->Notify(added[i]);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      written_count_ += batch.size();
    }
    written_.notify_all();
    batch.clear();
  }
}

}  // namespace volley::webhook
