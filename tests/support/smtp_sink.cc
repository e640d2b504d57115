#include "tests/support/smtp_sink.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/busy_stream.h"
#include "tests/support/fault_stream.h"
#include "tls/testdata/testdata_paths.h"

namespace volley::test_support {
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

// The strongest fault among the recipients: dropping the connection, then a permanent
// failure, then a temporary one. (dropdata* lands here only for a message without content:
// "BDAT 0 LAST".)
Fault MessageFault(const smtp::Envelope& envelope) {
  Fault fault = Fault::kNone;
  for (const std::string& recipient : envelope.recipients) {
    const Fault f = FaultOf(recipient);
    if (f == Fault::kDisconnect || f == Fault::kDropData) return Fault::kDisconnect;
    if (f == Fault::kPermDataFail) fault = f;
    if (f == Fault::kDataFail && fault == Fault::kNone) fault = f;
  }
  return fault;
}

}  // namespace

// Accepts everything except the faults asked for; runs on every loop of the sink at once.
class SmtpSink::FaultHandler : public smtp::ServerSessionHandler {
 public:
  explicit FaultHandler(SmtpSink* sink) : sink_(sink) {}

  void OnCommandLine(const smtp::Envelope& envelope, absl::string_view line) override {
    if (sink_->options_.record) sink_->RecordCommand(envelope, line);
  }

  std::optional<smtp::Reply> CheckMailFrom(const smtp::Envelope& envelope) override {
    if (sink_->MailAllowed(envelope.session_id)) return std::nullopt;
    return smtp::MakeReply(421, "4.7.0", "Too many messages on this connection");
  }

  bool ContinueData(const smtp::Envelope& envelope, size_t) override {
    return std::none_of(envelope.recipients.begin(), envelope.recipients.end(),
                        [](const std::string& r) { return FaultOf(r) == Fault::kDropData; });
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
    switch (MessageFault(envelope)) {
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
    ReceivedMessage message = bench::ToReceived(std::move(envelope));
    if (sink_->options_.record) message.content = std::move(content);
    bench::SmtpSink* server = sink_->running_.load(std::memory_order_acquire);
    if (server == nullptr) {
      // Not possible in practice (Start returns before a test sends), but then: try later.
      done(smtp::MakeReply(451, "4.3.0", "sink starting"));
      return;
    }
    const uint64_t id = server->Count(message, size);
    done(smtp::MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as S", id)));
  }

 private:
  SmtpSink* const sink_;
};

absl::StatusOr<std::unique_ptr<SmtpSink>> SmtpSink::Start(const SinkOptions& options) {
  std::unique_ptr<SmtpSink> sink(new SmtpSink());
  sink->options_ = options;
  sink->handler_ = std::make_unique<FaultHandler>(sink.get());
  bench::SinkOptions server = options;
  server.handler = sink->handler_.get();
  SmtpSink* raw = sink.get();
  server.on_message = [raw](const ReceivedMessage& message) { raw->Record(message); };
  server.on_connections_changed = [raw](const std::string& address, int delta) {
    raw->OnConnections(address, delta);
  };
  if (options.starttls_breaks && server.tls_cert_file.empty()) {
    // STARTTLS is offered only with a certificate, though this one is never used.
    server.tls_cert_file = tls::TlsTestDataPath("mx.pem");
    server.tls_key_file = tls::TlsTestDataPath("mx.key");
  }
  if (options.reply_delay > absl::ZeroDuration() || options.starttls_breaks ||
      options.reply_delay_us != nullptr) {
    StreamFaults faults;
    faults.write_delay = options.reply_delay;
    faults.write_delay_us = options.reply_delay_us;
    faults.break_starttls = options.starttls_breaks;
    faults.dropping = sink->stopping_;
    server.wrap_stream = [faults](uv_loop_t* loop, std::unique_ptr<net::Stream> stream) {
      return std::unique_ptr<net::Stream>(new FaultStream(loop, std::move(stream), faults));
    };
  }
  if (options.max_connections > 0) {
    auto live = std::make_shared<std::atomic<int>>(0);
    auto inner = std::move(server.wrap_stream);
    server.wrap_stream = [live, inner, max = options.max_connections, refused = sink->refused_](
                             uv_loop_t* loop, std::unique_ptr<net::Stream> stream) {
      if (inner) stream = inner(loop, std::move(stream));
      auto busy = std::make_unique<BusyStream>(std::move(stream), live, max);
      if (busy->refused()) refused->fetch_add(1);
      return std::unique_ptr<net::Stream>(std::move(busy));
    };
  }
  absl::StatusOr<std::unique_ptr<bench::SmtpSink>> started = bench::SmtpSink::Start(server);
  if (!started.ok()) return started.status();
  sink->server_ = *std::move(started);
  sink->running_.store(sink->server_.get(), std::memory_order_release);
  return sink;
}

SmtpSink::~SmtpSink() {
  // The server's threads call into this object: they end first.
  if (server_ != nullptr) Stop();
}

void SmtpSink::Stop() {
  stopping_->store(true);
  server_->Stop();
}

void SmtpSink::Record(const ReceivedMessage& message) {
  if (options_.on_message) options_.on_message(message);
  if (!options_.record) return;
  std::lock_guard<std::mutex> lock(mutex_);
  recorded_.push_back(message);
}

void SmtpSink::OnConnections(const std::string& address, int delta) {
  if (options_.on_connections_changed) options_.on_connections_changed(address, delta);
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

bool SmtpSink::MailAllowed(uint64_t session_id) {
  if (options_.max_messages_per_connection <= 0) return true;
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return ++mails_[session_id] <= options_.max_messages_per_connection;
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
    fresh.first_command = absl::Now();
  }
  SessionTranscript& transcript = transcripts_[it->second];
  transcript.commands.emplace_back(line);
  transcript.last_command = absl::Now();
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

int MostConcurrentSessions(const std::vector<SessionTranscript>& transcripts,
                           const std::string& peer_address) {
  // Starts (0) sort before ends (1) at one time, so sessions that touch count as overlapping
  // (the strict reading).
  constexpr int kStart = 0;
  std::vector<std::pair<absl::Time, int>> edges;
  for (const SessionTranscript& t : transcripts) {
    if (!peer_address.empty() && t.peer_address != peer_address) continue;
    edges.emplace_back(t.first_command, kStart);
    edges.emplace_back(t.last_command, kStart + 1);
  }
  std::sort(edges.begin(), edges.end());
  int open = 0;
  int most = 0;
  for (const auto& [time, kind] : edges) {
    open += kind == kStart ? 1 : -1;
    most = std::max(most, open);
  }
  return most;
}

}  // namespace volley::test_support
