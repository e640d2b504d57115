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
#include "tls/tls_context.h"

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
  kDisconnect,
  kDropData,
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
  if (starts("dropdata")) return Fault::kDropData;
  return Fault::kNone;
}

bool HasDropData(const smtp::Envelope& envelope) {
  for (const std::string& recipient : envelope.recipients) {
    if (FaultOf(recipient) == Fault::kDropData) return true;
  }
  return false;
}

}  // namespace

// Accepts everything except the faults asked for; runs on a worker's loop.
class SmtpSink::Handler : public smtp::ServerSessionHandler {
 public:
  explicit Handler(SmtpSink* sink) : sink_(sink) {}

  void OnCommandLine(const smtp::Envelope& envelope, absl::string_view line) override {
    if (sink_->options_.record) sink_->RecordCommand(envelope, line);
  }

  bool ContinueData(const smtp::Envelope& envelope, size_t) override {
    return !HasDropData(envelope);
  }

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
                 absl::AnyInvocable<void(smtp::MessageResponse)> done) override {
    Fault fault = Fault::kNone;
    for (const std::string& recipient : envelope.recipients) {
      const Fault f = FaultOf(recipient);
      // The strongest fault wins: dropping the connection, then a permanent failure.
      // (dropdata* lands here only for a message without content: "BDAT 0 LAST".)
      if (f == Fault::kDisconnect || f == Fault::kDropData) {
        fault = Fault::kDisconnect;
      } else if (f == Fault::kPermDataFail && fault != Fault::kDisconnect) {
        fault = f;
      } else if (f == Fault::kDataFail && fault == Fault::kNone) {
        fault = f;
      }
    }
    switch (fault) {
      case Fault::kDisconnect:
        done(smtp::MessageResponse::Disconnect());
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
      message.session_id = envelope.session_id;
      message.mail_from = std::move(envelope.mail_from);
      message.recipients = std::move(envelope.recipients);
      message.local_address = std::move(envelope.local_address);
      message.peer_address = std::move(envelope.peer_address);
      message.tls = envelope.tls;
      message.tls_version = std::move(envelope.tls_version);
      message.auth_user = std::move(envelope.auth_user);
      message.bdat = envelope.bdat;
      message.smtputf8_requested = envelope.smtputf8_requested;
      message.mail_params = std::move(envelope.mail_params);
      message.recipient_params = std::move(envelope.recipient_params);
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
  listener.session.eightbitmime = options.eightbitmime;
  listener.session.smtputf8 = options.smtputf8;
  listener.session.chunking = options.chunking;
  listener.session.dsn = options.dsn;
  listener.session.max_message_size = options.max_message_size;
  listener.session.max_recipients = options.max_recipients;
  listener.session.greeting = options.greeting;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("smtp sink: tls_cert_file and tls_key_file go together");
  }
  if (!options.tls_cert_file.empty()) {
    tls::TlsContextOptions tls_options;
    tls_options.role = tls::TlsContextOptions::Role::kServer;
    tls_options.cert_file = options.tls_cert_file;
    tls_options.key_file = options.tls_key_file;
    absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(tls_options);
    if (!context.ok()) return context.status();
    listener.session.tls = *std::move(context);
  }
  if (options.implicit_tls && listener.session.tls == nullptr) {
    return absl::InvalidArgumentError("smtp sink: implicit_tls needs tls_cert_file");
  }
  listener.implicit_tls = options.implicit_tls;
  listener.break_starttls = options.starttls_breaks;
  if (!options.auth_users.empty()) {
    // A copy of its own, read-only, shared by every worker thread.
    auto users = std::make_shared<const std::map<std::string, std::string>>(options.auth_users);
    listener.session.authenticate = [users](absl::string_view user, absl::string_view password) {
      auto it = users->find(std::string(user));
      return it != users->end() && it->second == password;
    };
  }
  listener.session.auth_requires_tls = options.auth_requires_tls;
  listener.session.auth_required = options.auth_required;
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

void SmtpSink::RecordCommand(const smtp::Envelope& envelope, absl::string_view line) {
  std::lock_guard<std::mutex> lock(transcripts_mutex_);
  auto [it, inserted] = transcript_index_.try_emplace(envelope.session_id, transcripts_.size());
  if (inserted) {
    SessionTranscript& fresh = transcripts_.emplace_back();
    fresh.session_id = envelope.session_id;
    fresh.local_address = envelope.local_address;
    fresh.peer_address = envelope.peer_address;
  }
  SessionTranscript& transcript = transcripts_[it->second];
  transcript.commands.emplace_back(line);
  transcript.tls = envelope.tls;
  transcript.tls_version = envelope.tls_version;
  transcript.auth_user = envelope.auth_user;
}

std::vector<SessionTranscript> SmtpSink::Transcripts() const {
  std::lock_guard<std::mutex> lock(transcripts_mutex_);
  return transcripts_;
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
