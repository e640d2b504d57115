#include "bench/smtp_sink.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/inject/smtp_listener.h"
#include "engine/runtime/shard.h"
#include "tls/tls_context.h"

namespace volley::bench {

ReceivedMessage ToReceived(smtp::Envelope envelope) {
  ReceivedMessage message;
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
  return message;
}

// Accepts every recipient and every message; runs on any of the sink's loops.
class SmtpSink::AcceptAll : public smtp::ServerSessionHandler {
 public:
  explicit AcceptAll(SmtpSink* sink) : sink_(sink) {}

  std::optional<smtp::Reply> CheckRecipient(const smtp::Envelope&, absl::string_view) override {
    return std::nullopt;
  }

  void OnMessage(smtp::Envelope envelope, std::string content,
                 absl::AnyInvocable<void(smtp::MessageResponse)> done) override {
    const size_t size = content.size();
    ReceivedMessage message = ToReceived(std::move(envelope));
    if (sink_->options_.keep_content) message.content = std::move(content);
    const uint64_t id = sink_->Count(message, size);
    done(smtp::MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as S", id)));
  }

 private:
  SmtpSink* const sink_;
};

// One shard (a thread with its loop) and a listener per address.
class SmtpSink::Worker {
 public:
  explicit Worker(int index) : shard_(index) {}

  absl::Status Start() {
    absl::Status status = shard_.Start();
    started_ = status.ok();
    return status;
  }

  // Opens the listener on the worker's loop and returns its port.
  absl::StatusOr<uint16_t> Listen(const inject::SmtpListenerOptions& options,
                                  smtp::ServerSessionHandler* handler) {
    uint16_t port = 0;
    absl::Status status = shard_.Call([&]() -> absl::Status {
      absl::StatusOr<std::unique_ptr<inject::SmtpListener>> listener =
          inject::SmtpListener::Create(shard_.loop(), options, handler);
      if (!listener.ok()) return listener.status();
      port = (*listener)->port();
      listeners_.push_back(*std::move(listener));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return port;
  }

  void Stop() {
    if (stopped_ || !started_) return;
    stopped_ = true;
    shard_.Post([this] {
      // One more than the listeners, so that a Close that finishes at once cannot end the
      // count while the loop below still walks the list.
      open_ = 1 + static_cast<int>(listeners_.size());
      auto one_done = [this] {
        if (--open_ > 0) return;
        // Not inside a listener's own callback: the teardown goes on the next turn.
        shard_.Post([this] {
          listeners_.clear();
          shard_.CloseMailbox();
        });
      };
      for (auto& listener : listeners_) listener->Close(absl::ZeroDuration(), one_done);
      one_done();
    });
    shard_.Join();
  }

 private:
  Shard shard_;
  std::vector<std::unique_ptr<inject::SmtpListener>> listeners_;  // loop thread
  int open_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

absl::StatusOr<std::unique_ptr<SmtpSink>> SmtpSink::Start(const SinkOptions& options) {
  if (options.addresses.empty()) return absl::InvalidArgumentError("smtp sink: no address");
  if (options.threads < 1) return absl::InvalidArgumentError("smtp sink: threads < 1");
  std::unique_ptr<SmtpSink> sink(new SmtpSink());
  sink->options_ = options;
  sink->accept_all_ = std::make_unique<AcceptAll>(sink.get());
  smtp::ServerSessionHandler* handler =
      options.handler != nullptr ? options.handler : sink->accept_all_.get();
  inject::SmtpListenerOptions listener;
  listener.port = options.port;
  listener.reuse_port = true;
  listener.max_connections = 10000;
  listener.wrap_stream = options.wrap_stream;
  smtp::ServerSessionOptions& session = listener.session;
  session.hostname = "sink.localdomain";
  session.pipelining = options.pipelining;
  session.eightbitmime = options.eightbitmime;
  session.smtputf8 = options.smtputf8;
  session.chunking = options.chunking;
  session.dsn = options.dsn;
  session.max_message_size = options.max_message_size;
  session.max_recipients = options.max_recipients;
  session.greeting = options.greeting;
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
    session.tls = *std::move(context);
  }
  if (options.implicit_tls && session.tls == nullptr) {
    return absl::InvalidArgumentError("smtp sink: implicit_tls needs tls_cert_file");
  }
  listener.implicit_tls = options.implicit_tls;
  if (!options.auth_users.empty()) {
    // A copy of its own, read-only, shared by every loop.
    auto users = std::make_shared<const std::map<std::string, std::string>>(options.auth_users);
    session.authenticate =
        smtp::CheckAtOnce([users](absl::string_view user, absl::string_view password) {
          auto it = users->find(std::string(user));
          return it != users->end() && it->second == password;
        });
  }
  session.auth_requires_tls = options.auth_requires_tls;
  session.auth_required = options.auth_required;
  for (int t = 0; t < options.threads; ++t) {
    sink->workers_.push_back(std::make_unique<Worker>(t));
    Worker& worker = *sink->workers_.back();
    if (absl::Status started = worker.Start(); !started.ok()) return started;
    for (const std::string& address : options.addresses) {
      listener.address = address;
      if (options.on_connections_changed) {
        auto report = options.on_connections_changed;
        listener.on_connections_changed = [report, address](int delta) { report(address, delta); };
      }
      absl::StatusOr<uint16_t> port = worker.Listen(listener, handler);
      if (!port.ok()) return port.status();  // the destructor stops what started
      // Every other listener binds the port the first one got.
      listener.port = *port;
      sink->port_ = *port;
    }
  }
  return sink;
}

SmtpSink::~SmtpSink() { Stop(); }

void SmtpSink::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& worker : workers_) worker->Stop();
  workers_.clear();
}

uint64_t SmtpSink::Count(const ReceivedMessage& message, size_t content_size) {
  recipients_.fetch_add(message.recipients.size(), std::memory_order_relaxed);
  bytes_.fetch_add(content_size, std::memory_order_relaxed);
  if (options_.on_message) options_.on_message(message);
  const uint64_t id = next_queue_id_.fetch_add(1, std::memory_order_relaxed) + 1;
  // Counted last, so that a waiter that sees the count also sees what on_message did.
  messages_.fetch_add(1, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    // Taking the lock orders this against a waiter between its check and its wait.
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }
  return id;
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
