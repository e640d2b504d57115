#include "bench/smtp_sink.h"

#include <uv.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/base/logging.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/server_session.h"
#include "engine/smtp/smtp_listener.h"

namespace volley::bench {
namespace {

// The local part's fault keyword, if any.
enum class Fault {
  kNone,
  kTempFailOnce,
  kTempFail,
  kReject,
  kDataFail,
  kPermDataFail,
  kDisconnect
};

Fault FaultOf(absl::string_view recipient) {
  const size_t at = recipient.rfind('@');
  const absl::string_view local = recipient.substr(0, at);
  auto starts = [local](absl::string_view prefix) {
    return absl::StartsWithIgnoreCase(local, prefix);
  };
  if (starts("tempfailonce")) return Fault::kTempFailOnce;
  if (starts("tempfail")) return Fault::kTempFail;
  if (starts("reject") || starts("bounce")) return Fault::kReject;
  if (starts("datafail")) return Fault::kDataFail;
  if (starts("permdatafail")) return Fault::kPermDataFail;
  if (starts("disconnect")) return Fault::kDisconnect;
  return Fault::kNone;
}

}  // namespace

// Accepts everything except the faults asked for; runs on a worker's loop.
class SmtpSink::Handler : public smtp::ServerSessionHandler {
 public:
  explicit Handler(SmtpSink* sink) : sink_(sink) {}

  std::optional<smtp::Reply> CheckRecipient(const smtp::Envelope&,
                                            absl::string_view recipient) override {
    switch (FaultOf(recipient)) {
      case Fault::kTempFailOnce:
        if (!sink_->FirstSight(std::string(recipient))) return std::nullopt;
        return smtp::MakeReply(451, "4.3.0", "Temporary failure requested (once)");
      case Fault::kTempFail:
        return smtp::MakeReply(451, "4.3.0", "Temporary failure requested");
      case Fault::kReject:
        return smtp::MakeReply(550, "5.1.1", "Recipient rejected as requested");
      default:
        return std::nullopt;
    }
  }

  void OnMessage(smtp::Envelope envelope, std::string content,
                 absl::AnyInvocable<void(smtp::Reply)> done) override {
    Fault fault = Fault::kNone;
    for (const std::string& recipient : envelope.recipients) {
      const Fault f = FaultOf(recipient);
      // The strongest fault wins: dropping the connection, then a permanent failure.
      if (f == Fault::kDisconnect) {
        fault = f;
      } else if (f == Fault::kPermDataFail && fault != Fault::kDisconnect) {
        fault = f;
      } else if (f == Fault::kDataFail && fault == Fault::kNone) {
        fault = f;
      }
    }
    switch (fault) {
      case Fault::kDisconnect:
        done(smtp::Reply{});  // code 0: drop the connection without a reply
        return;
      case Fault::kPermDataFail:
        done(smtp::MakeReply(554, "5.6.0", "Message refused as requested"));
        return;
      case Fault::kDataFail:
        done(smtp::MakeReply(451, "4.3.0", "Temporary failure requested"));
        return;
      default:
        break;
    }
    const size_t size = content.size();
    ReceivedMessage message;
    if (sink_->options_.record || sink_->options_.on_message) {
      message.mail_from = std::move(envelope.mail_from);
      message.recipients = std::move(envelope.recipients);
      message.local_address = std::move(envelope.local_address);
      message.peer_address = std::move(envelope.peer_address);
      if (sink_->options_.record) message.content = std::move(content);
    } else {
      // Only the count is needed.
      message.recipients.resize(envelope.recipients.size());
    }
    const uint64_t id = sink_->next_queue_id_.fetch_add(1, std::memory_order_relaxed) + 1;
    sink_->Count(std::move(message), size);
    done(smtp::MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as S", id)));
  }

 private:
  SmtpSink* const sink_;
};

// One thread with its loop and a listener per address.
class SmtpSink::Worker {
 public:
  explicit Worker(SmtpSink* sink) : handler_(sink) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_async_, &OnStop);
    stop_async_.data = this;
  }

  ~Worker() {
    Stop();
    if (!started_) {
      // Listeners created but the loop never ran: close them and let the loop finish.
      StopOnLoop();
      uv_run(&loop_, UV_RUN_DEFAULT);
    }
    const int rc = uv_loop_close(&loop_);
    if (rc != 0) LOG(ERROR) << "smtp sink: uv_loop_close: " << uv_strerror(rc);
  }

  absl::StatusOr<uint16_t> Listen(const smtp::ListenerOptions& options) {
    absl::StatusOr<std::unique_ptr<smtp::SmtpListener>> listener =
        smtp::SmtpListener::Create(&loop_, options, &handler_);
    if (!listener.ok()) return listener.status();
    const uint16_t port = (*listener)->port();
    listeners_.push_back(std::move(*listener));
    return port;
  }

  void Run() {
    started_ = true;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_async_);
    thread_.join();
  }

 private:
  static void OnStop(uv_async_t* async) { static_cast<Worker*>(async->data)->StopOnLoop(); }

  void StopOnLoop() {
    if (stopping_) return;
    stopping_ = true;
    open_listeners_ = static_cast<int>(listeners_.size());
    auto all_closed = [this] {
      listeners_.clear();
      uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
    };
    if (open_listeners_ == 0) {
      all_closed();
      return;
    }
    for (auto& listener : listeners_) {
      listener->Close(absl::ZeroDuration(), [this, all_closed] {
        if (--open_listeners_ == 0) all_closed();
      });
    }
  }

  uv_loop_t loop_;
  uv_async_t stop_async_;
  Handler handler_;
  std::vector<std::unique_ptr<smtp::SmtpListener>> listeners_;
  std::thread thread_;
  bool started_ = false;
  bool stopping_ = false;
  int open_listeners_ = 0;
};

absl::StatusOr<std::unique_ptr<SmtpSink>> SmtpSink::Start(const SinkOptions& options) {
  if (options.addresses.empty()) return absl::InvalidArgumentError("smtp sink: no address");
  if (options.threads < 1) return absl::InvalidArgumentError("smtp sink: threads < 1");
  std::unique_ptr<SmtpSink> sink(new SmtpSink());
  sink->options_ = options;
  smtp::ListenerOptions listener;
  listener.port = options.port;
  listener.reuse_port = true;
  listener.max_connections = 10000;
  listener.reply_delay = options.reply_delay;
  listener.session.hostname = "sink.localdomain";
  listener.session.pipelining = options.pipelining;
  listener.session.max_message_size = 256ull * 1024 * 1024;
  listener.session.max_recipients = 100000;
  for (int t = 0; t < options.threads; ++t) {
    sink->workers_.push_back(std::make_unique<Worker>(sink.get()));
    for (const std::string& address : options.addresses) {
      listener.address = address;
      SmtpSink* raw = sink.get();
      listener.on_connections_changed = [raw, address](int delta) {
        raw->OnConnections(address, delta);
      };
      absl::StatusOr<uint16_t> port = sink->workers_.back()->Listen(listener);
      if (!port.ok()) return port.status();  // the workers' destructors close what opened
      // Every other listener binds the port the first one got.
      listener.port = *port;
      sink->port_ = *port;
    }
  }
  for (auto& worker : sink->workers_) worker->Run();
  return sink;
}

SmtpSink::~SmtpSink() { Stop(); }

void SmtpSink::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& worker : workers_) worker->Stop();
  workers_.clear();
}

void SmtpSink::Count(ReceivedMessage message, size_t content_size) {
  recipients_.fetch_add(message.recipients.size(), std::memory_order_relaxed);
  bytes_.fetch_add(content_size, std::memory_order_relaxed);
  if (options_.on_message) options_.on_message(message);
  if (options_.record) {
    std::lock_guard<std::mutex> lock(mutex_);
    recorded_.push_back(std::move(message));
  }
  // Counted last, so that a waiter that sees the count also finds the message recorded.
  messages_.fetch_add(1, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    // Taking the lock orders this against a waiter between its check and its wait.
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }
}

void SmtpSink::OnConnections(const std::string& address, int delta) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ConnectionStats& stats = connection_stats_[address];
  stats.open += delta;
  if (delta > 0) stats.accepted += static_cast<uint64_t>(delta);
  stats.max_open = std::max(stats.max_open, stats.open);
}

SmtpSink::ConnectionStats SmtpSink::connection_stats(const std::string& address) const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  auto it = connection_stats_.find(address);
  return it == connection_stats_.end() ? ConnectionStats{} : it->second;
}

bool SmtpSink::FirstSight(const std::string& recipient) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return seen_.insert(absl::AsciiStrToLower(recipient)).second;
}

std::vector<ReceivedMessage> SmtpSink::TakeMessages() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ReceivedMessage> messages;
  messages.swap(recorded_);
  return messages;
}

bool SmtpSink::WaitForMessages(uint64_t n, absl::Duration timeout) {
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  std::unique_lock<std::mutex> lock(mutex_);
  const bool reached = cv_.wait_until(lock, absl::ToChronoTime(absl::Now() + timeout), [&] {
    return messages_.load(std::memory_order_seq_cst) >= n;
  });
  lock.unlock();
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
  return reached;
}

}  // namespace volley::bench
