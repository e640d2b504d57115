#include "engine/webhook/webhook_sender.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/base/logging.h"
#include "queue/encoding.h"

namespace volley::webhook {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Seconds(1);
constexpr absl::Duration kMaxBackoff = absl::Seconds(60);

}  // namespace

std::string QueuePrefix(absl::string_view name) {
  std::string prefix(name);
  prefix.push_back('\0');
  return prefix;
}

std::string QueueKey(absl::string_view name, uint64_t seq) {
  std::string key = QueuePrefix(name);
  queue::PutFixed64BE(&key, seq);
  return key;
}

std::string SignBody(absl::string_view secret, absl::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), secret.size(), reinterpret_cast<const uint8_t*>(body.data()),
       body.size(), mac, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), length));
}

WebhookSender::WebhookSender(config::WebhookConfig config, http::HttpUrl url, queue::Spool* spool,
                             metrics::EngineMetrics::WebhookSeries series)
    : config_(std::move(config)),
      url_(std::move(url)),
      spool_(spool),
      series_(series),
      prefix_(QueuePrefix(config_.name)) {}

WebhookSender::~WebhookSender() { Stop(); }

void WebhookSender::Start() {
  thread_ = std::thread([this] { Run(); });
}

void WebhookSender::Notify(int64_t n) {
  series_.backlog->Add(n);
  std::lock_guard<std::mutex> lock(mutex_);
  wake_.notify_one();
}

void WebhookSender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void WebhookSender::Run() {
  absl::Duration backoff = kFirstBackoff;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || backlog() > 0; });
      if (stopping_) return;
      // Gather: a full batch goes at once, a partial one after max_batch_delay.
      wake_.wait_for(lock, absl::ToChronoMilliseconds(config_.max_batch_delay),
                     [this] { return stopping_ || backlog() >= config_.batch_size; });
      if (stopping_) return;
    }
    const Sent sent = SendBatch();
    if (sent == Sent::kAccepted) {
      backoff = kFirstBackoff;
      continue;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (sent == Sent::kNothing) {
      // Counted but not yet readable (cannot happen while the writer counts only what it
      // wrote): look again in a while rather than spin.
      if (wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
      continue;
    }
    series_.failures->Add(0);
    if (wake_.wait_for(lock, absl::ToChronoMilliseconds(backoff), [this] { return stopping_; })) {
      return;
    }
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

WebhookSender::Sent WebhookSender::SendBatch() {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> records =
      spool_->ScanWebhookRecords(prefix_, "", static_cast<size_t>(config_.batch_size));
  if (!records.ok()) {
    LOG_EVERY_N_SEC(ERROR, 30) << "webhook " << config_.name << ": " << records.status();
    return Sent::kFailed;
  }
  if (records->empty()) return Sent::kNothing;
  std::string body = "[";
  for (size_t i = 0; i < records->size(); ++i) {
    if (i > 0) body.push_back(',');
    body.append((*records)[i].second);
  }
  body.push_back(']');
  absl::string_view first_key = records->front().first;
  first_key.remove_prefix(prefix_.size());
  uint64_t first_seq = 0;
  queue::GetFixed64BE(&first_key, &first_seq);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"X-Volley-Webhook", config_.name},
      {"X-Volley-Batch", absl::StrCat(first_seq)}};
  if (!config_.hmac_secret.empty()) {
    headers.emplace_back("X-Volley-Signature",
                         absl::StrCat("sha256=", SignBody(config_.hmac_secret, body)));
  }
  absl::StatusOr<http::HttpClientResponse> answer =
      http::HttpRequest("POST", url_, headers, body, config_.timeout);
  if (!answer.ok() || answer->status / 100 != 2) {
    LOG_EVERY_N_SEC(WARNING, 30) << "webhook " << config_.name << ": "
                                 << (answer.ok() ? absl::StrCat("HTTP ", answer->status)
                                                 : answer.status().ToString())
                                 << "; trying again";
    return Sent::kFailed;
  }
  std::vector<std::string> sent;
  sent.reserve(records->size());
  for (auto& [key, value] : *records) sent.push_back(std::move(key));
  if (absl::Status removed = spool_->WriteWebhookRecords({}, sent); !removed.ok()) {
    // They go again: the endpoint sees the batch twice, which its batch id tells.
    LOG_EVERY_N_SEC(ERROR, 30) << "webhook " << config_.name << ": " << removed;
    return Sent::kFailed;
  }
  series_.backlog->Add(-static_cast<int64_t>(sent.size()));
  series_.sent->Add(0, sent.size());
  return Sent::kAccepted;
}

}  // namespace volley::webhook
