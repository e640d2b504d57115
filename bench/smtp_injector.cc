#include "bench/smtp_injector.h"

#include <uv.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/base/bytes.h"
#include "engine/base/net_address.h"
#include "engine/net/tcp_stream.h"
#include "engine/net/tls_stream.h"
#include "engine/runtime/timer.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/ehlo.h"
#include "engine/smtp/line_reader.h"
#include "engine/smtp/reply_parser.h"

namespace volley::bench {
namespace {

constexpr size_t kMaxReplyLine = 4096;  // lenient: RFC 5321 says 512
constexpr int kMaxConsecutiveFailures = 3;

smtp::Reply Synthetic(std::string text) {
  smtp::Reply reply;
  reply.code = 0;
  reply.lines.push_back(std::move(text));
  return reply;
}

// One InjectAll call: a private loop, up to `options.connections` SMTP sessions on it, each in a
// slot that reconnects until the messages run out or the slot gives up, and a watchdog.
//
// Thread: Run and every callback run on the thread that calls InjectAll.
class Injector {
 public:
  Injector(const InjectorOptions& options,
           absl::FunctionRef<InjectMessage(size_t index)> make_message, size_t count)
      : options_(options), make_message_(make_message), count_(count) {
    result_.replies.resize(count);
    result_.recipient_replies.resize(count);
    result_.acked_at.resize(count);
  }

  absl::StatusOr<InjectResult> Run() {
    // TcpStream::Connect would check the address as well, but as a connection failure per
    // message; a bad address is the caller's mistake and fails the whole call.
    absl::StatusOr<sockaddr_storage> address = MakeSocketAddress(options_.host, options_.port);
    if (!address.ok()) return address.status();
    if (options_.connections < 1) return absl::InvalidArgumentError("connections < 1");
    const int init = uv_loop_init(&loop_);
    if (init != 0) return absl::InternalError(absl::StrCat("uv_loop_init: ", uv_strerror(init)));
    watchdog_ = std::make_unique<Timer>(&loop_, [this] { OnWatchdog(); });
    reaper_ = std::make_unique<Timer>(&loop_, [this] { Reap(); });
    result_.started = absl::Now();
    last_progress_ = result_.started;
    if (count_ > 0) {
      watchdog_->StartRepeating(
          std::clamp(options_.timeout / 4, absl::Milliseconds(1), absl::Milliseconds(500)));
      const int slots = static_cast<int>(std::min<size_t>(options_.connections, count_));
      slots_.resize(slots);
      for (int i = 0; i < slots; ++i) Connect(i);
    }
    // The loop ends when every connection is reaped and MaybeFinish stopped the watchdog.
    const bool stopped = uv_run(&loop_, UV_RUN_DEFAULT) != 0;
    result_.finished = absl::Now();
    const absl::Status closed = CloseLoop();
    if (stopped) return absl::InternalError("uv_run: stopped with handles still active");
    if (!closed.ok()) return closed;
    if (timed_out_) {
      return absl::DeadlineExceededError(
          absl::StrCat("smtp injector: no progress for ", absl::FormatDuration(options_.timeout),
                       " (", completed_, " of ", count_, " messages done)"));
    }
    return std::move(result_);
  }

 private:
  enum class State {
    kConnecting,
    kGreeting,
    kEhlo,
    kStartTls,
    kHandshake,
    kAuth,
    kTransaction,
    kBody,
    kRset,
    kQuit
  };

  // One SMTP session over one TCP stream, and the message in flight on it. Its slot owns it. A
  // closed connection lives on until the reaper frees it on a later loop turn, so that the code
  // that closed it, often deep inside the stream's own callbacks, may still look at it.
  //
  // Thread: the injector's loop.
  struct Connection {
    int slot = 0;
    std::unique_ptr<net::Stream> stream;  // null when the connect failed at once
    bool tls = false;                     // STARTTLS done
    bool authenticated = false;
    State state = State::kConnecting;
    bool closing = false;
    bool failed = false;
    smtp::LineReader reader{kMaxReplyLine};
    smtp::ReplyParser parser;
    bool pipelined = false;
    int messages_done = 0;
    // The message in flight.
    std::optional<size_t> index;
    std::string content;
    std::vector<std::string> commands;  // MAIL, RCPT..., DATA, each with CRLF
    size_t sent = 0;                    // commands written
    size_t answered = 0;                // replies received to them
    int rcpt_accepted = 0;
    std::optional<smtp::Reply> mail_refusal;
    std::optional<smtp::Reply> last_rcpt_refusal;
  };

  // A place for one connection at a time, reopened after each close.
  //
  // Thread: the injector's loop.
  struct Slot {
    int failures = 0;  // connection failures since the last completed message
    bool gave_up = false;
    std::unique_ptr<Connection> connection;  // open, or closed and waiting for the reaper
  };

  void Connect(int slot) {
    auto owned = std::make_unique<Connection>();
    Connection* c = owned.get();
    c->slot = slot;
    slots_[slot].connection = std::move(owned);
    ++open_connections_;
    absl::StatusOr<std::unique_ptr<net::TcpStream>> stream =
        net::TcpStream::Connect(&loop_, options_.host, options_.port, /*source_ip=*/"",
                                [this, c](const absl::Status& status) { OnConnected(c, status); });
    if (!stream.ok()) {
      Fail(c, absl::StrCat("connect: ", stream.status().message()));
      return;
    }
    c->stream = *std::move(stream);
    SetCallbacks(c);
  }

  void SetCallbacks(Connection* c) {
    // The callbacks never run once the stream is closed, and the connection outlives its
    // stream, so `c` is valid whenever they do.
    c->stream->SetCallbacks({
        .on_data = [this, c](absl::string_view bytes) { OnData(c, bytes); },
        .on_end = [this, c](const absl::Status& status) { OnEnd(c, status); },
    });
  }

  // After the 220 to STARTTLS: the handshake, then EHLO again (RFC 3207 4.2).
  void StartTls(Connection* c) {
    c->state = State::kHandshake;
    c->reader.Clear();
    absl::StatusOr<std::unique_ptr<net::TlsStream>> tls = net::TlsStream::Client(
        std::move(c->stream), options_.starttls, tls::ClientSessionOptions{});
    if (!tls.ok()) {
      Fail(c, absl::StrCat("STARTTLS: ", tls.status().message()));
      return;
    }
    net::TlsStream* raw = tls->get();
    raw->set_on_established([this, c] {
      Progress();
      c->tls = true;
      ++result_.tls_handshakes;
      c->state = State::kEhlo;
      Write(c, "EHLO injector.localdomain\r\n");
    });
    c->stream = *std::move(tls);
    SetCallbacks(c);
  }

  // After EHLO: STARTTLS and AUTH when asked for and not done yet, then the messages.
  void AfterEhlo(Connection* c) {
    if (options_.starttls != nullptr && !c->tls) {
      c->state = State::kStartTls;
      Write(c, "STARTTLS\r\n");
      return;
    }
    if (!options_.auth_user.empty() && !c->authenticated) {
      c->state = State::kAuth;
      Write(c, absl::StrCat("AUTH PLAIN ",
                            absl::Base64Escape(
                                absl::StrCat(absl::string_view("\0", 1), options_.auth_user,
                                             absl::string_view("\0", 1), options_.auth_password)),
                            "\r\n"));
      return;
    }
    NextMessage(c);
  }

  void OnConnected(Connection* c, const absl::Status& status) {
    if (!status.ok()) {
      Fail(c, absl::StrCat("connect: ", status.message()));
      return;
    }
    Progress();
    c->state = State::kGreeting;
    const absl::Status reading = c->stream->StartReading();
    if (!reading.ok()) Fail(c, std::string(reading.message()));
  }

  // The peer closed (ok) or the stream failed reading or writing.
  void OnEnd(Connection* c, const absl::Status& status) {
    if (status.ok() && c->state == State::kQuit) {
      Close(c);
      return;
    }
    Fail(c, status.ok() ? std::string("connection closed by the server")
                        : std::string(status.message()));
  }

  void OnData(Connection* c, absl::string_view input) {
    while (!c->closing) {
      absl::string_view line;
      const smtp::LineReader::Status status = c->reader.Next(&input, &line);
      if (status == smtp::LineReader::Status::kNeedMore) break;
      if (status == smtp::LineReader::Status::kTooLong) {
        Fail(c, "protocol error: reply line too long");
        return;
      }
      switch (c->parser.FeedLine(line)) {
        case smtp::ReplyParser::Result::kIncomplete:
          break;
        case smtp::ReplyParser::Result::kError:
          Fail(c, absl::StrCat("protocol error: ", c->parser.error().message()));
          return;
        case smtp::ReplyParser::Result::kComplete:
          OnReply(c, c->parser.Take());
          break;
      }
    }
  }

  void OnReply(Connection* c, smtp::Reply reply) {
    Progress();
    switch (c->state) {
      case State::kConnecting:
        Fail(c, "protocol error: reply before connecting");
        return;
      case State::kGreeting:
        if (reply.code != 220) {
          Fail(c, absl::StrCat("greeting: ", reply.code, " ", reply.Text()));
          return;
        }
        c->state = State::kEhlo;
        Write(c, "EHLO injector.localdomain\r\n");
        return;
      case State::kEhlo: {
        if (reply.code != 250) {
          Fail(c, absl::StrCat("EHLO: ", reply.code, " ", reply.Text()));
          return;
        }
        const smtp::Capabilities capabilities = smtp::ParseEhloReply(reply);
        c->pipelined = options_.pipelining && capabilities.pipelining;
        AfterEhlo(c);
        return;
      }
      case State::kStartTls:
        if (reply.code != 220) {
          Fail(c, absl::StrCat("STARTTLS: ", reply.code, " ", reply.Text()));
          return;
        }
        StartTls(c);
        return;
      case State::kHandshake:
        Fail(c, "protocol error: a reply during the TLS handshake");
        return;
      case State::kAuth:
        if (reply.code != 235) {
          Fail(c, absl::StrCat("AUTH: ", reply.code, " ", reply.Text()));
          return;
        }
        c->authenticated = true;
        AfterEhlo(c);
        return;
      case State::kTransaction:
        OnTransactionReply(c, std::move(reply));
        return;
      case State::kBody: {
        const size_t index = *c->index;
        c->index.reset();
        slots_[c->slot].failures = 0;
        ++c->messages_done;
        Finish(index, std::move(reply));
        NextMessage(c);
        return;
      }
      case State::kRset:
        NextMessage(c);
        return;
      case State::kQuit:
        Close(c);
        return;
    }
  }

  // Replies to MAIL (0), each RCPT (1..n) and DATA (n+1).
  void OnTransactionReply(Connection* c, smtp::Reply reply) {
    const size_t index = *c->index;
    const size_t n = c->commands.size() - 2;  // recipients
    const size_t which = c->answered++;
    if (which == 0) {
      if (!reply.IsPositive()) c->mail_refusal = reply;
    } else if (which <= n) {
      if (reply.IsPositive()) {
        ++c->rcpt_accepted;
      } else {
        c->last_rcpt_refusal = reply;
      }
      result_.recipient_replies[index][which - 1] = std::move(reply);
    } else {
      if (reply.code == 354) {
        c->state = State::kBody;
        std::string body;
        body.reserve(c->content.size() + c->content.size() / 64 + 8);
        smtp::DotStuff(c->content, &body);
        c->content = std::string();
        Write(c, std::move(body));
        return;
      }
      // DATA refused: the first refusal explains it best.
      if (c->mail_refusal) {
        reply = *c->mail_refusal;
      } else if (c->rcpt_accepted == 0 && c->last_rcpt_refusal) {
        reply = *c->last_rcpt_refusal;
      }
      AbortTransaction(c, std::move(reply));
      return;
    }
    if (c->pipelined) return;  // everything is on its way already
    // Lock-step: stop early when the transaction cannot succeed.
    if (which == 0 && c->mail_refusal) {
      AbortTransaction(c, *c->mail_refusal);
      return;
    }
    if (which == n && c->rcpt_accepted == 0) {
      AbortTransaction(c, *c->last_rcpt_refusal);
      return;
    }
    Write(c, c->commands[c->sent++]);
  }

  // The transaction ended without data: record its fate and RSET before the next one.
  void AbortTransaction(Connection* c, smtp::Reply reply) {
    const size_t index = *c->index;
    c->index.reset();
    slots_[c->slot].failures = 0;
    ++c->messages_done;
    Finish(index, std::move(reply));
    c->state = State::kRset;
    Write(c, "RSET\r\n");
  }

  void NextMessage(Connection* c) {
    const bool connection_spent = options_.messages_per_connection > 0 &&
                                  c->messages_done >= options_.messages_per_connection;
    if (next_index_ >= count_ || connection_spent) {
      c->state = State::kQuit;
      Write(c, "QUIT\r\n");
      return;
    }
    const size_t index = next_index_++;
    InjectMessage message = make_message_(index);
    c->index = index;
    c->content = std::move(message.content);
    c->commands.clear();
    bool smtputf8 = message.smtputf8 || HasEightBit(message.mail_from);
    for (const std::string& r : message.recipients) smtputf8 = smtputf8 || HasEightBit(r);
    c->commands.push_back(
        absl::StrCat("MAIL FROM:<", message.mail_from, ">", smtputf8 ? " SMTPUTF8" : "", "\r\n"));
    for (const std::string& recipient : message.recipients) {
      c->commands.push_back(absl::StrCat("RCPT TO:<", recipient, ">\r\n"));
    }
    c->commands.push_back("DATA\r\n");
    result_.recipient_replies[index].assign(message.recipients.size(), Synthetic("no reply"));
    c->answered = 0;
    c->rcpt_accepted = 0;
    c->mail_refusal.reset();
    c->last_rcpt_refusal.reset();
    c->state = State::kTransaction;
    if (message.recipients.empty()) {
      // Nothing to send: the server would refuse DATA anyway.
      c->index.reset();
      Finish(index, Synthetic("message has no recipients"));
      NextMessage(c);
      return;
    }
    if (c->pipelined) {
      std::string batch;
      for (const std::string& command : c->commands) batch += command;
      c->sent = c->commands.size();
      Write(c, std::move(batch));
    } else {
      c->sent = 1;
      Write(c, c->commands[0]);
    }
  }

  void Finish(size_t index, smtp::Reply reply) {
    if (reply.code == 0) {
      ++result_.failed;
    } else if (reply.IsPositive()) {
      ++result_.accepted;
    } else {
      ++result_.rejected;
    }
    result_.replies[index] = std::move(reply);
    result_.acked_at[index] = absl::Now();
    ++completed_;
    Progress();
  }

  // A failed write comes back through on_end.
  void Write(Connection* c, std::string bytes) {
    if (c->closing) return;
    c->stream->Write(std::move(bytes));
  }

  // The connection broke: its message in flight fails.
  void Fail(Connection* c, std::string error) {
    if (c->closing) return;
    c->failed = true;
    last_error_ = error;
    if (c->index) {
      const size_t index = *c->index;
      c->index.reset();
      Finish(index, Synthetic(std::move(error)));
    }
    Close(c);
  }

  // Closes the stream now; the reaper frees the connection and reopens its slot on the next loop
  // turn, outside the stream's callbacks.
  void Close(Connection* c) {
    if (c->closing) return;
    c->closing = true;
    if (c->stream != nullptr) c->stream->Close();
    closed_slots_.push_back(c->slot);
    reaper_->Start(absl::ZeroDuration());
  }

  void Reap() {
    // OnClosed may close connections again (a connect that fails at once): those wait for the
    // next turn.
    std::vector<int> closed = std::exchange(closed_slots_, {});
    for (int slot : closed) OnClosed(slot);
  }

  void OnClosed(int slot_index) {
    Slot& slot = slots_[slot_index];
    const bool failed = slot.connection->failed;
    slot.connection.reset();
    --open_connections_;
    if (timed_out_) {
      MaybeFinish();
      return;
    }
    if (failed && ++slot.failures >= kMaxConsecutiveFailures) slot.gave_up = true;
    if (next_index_ < count_ && !slot.gave_up) {
      Connect(slot_index);
      return;
    }
    if (open_connections_ == 0 && next_index_ < count_) {
      // Every slot gave up: what is left cannot be sent.
      while (next_index_ < count_) {
        Finish(next_index_++, Synthetic(absl::StrCat("not sent: ", last_error_)));
      }
    }
    MaybeFinish();
  }

  // With every connection reaped and every message done (or the time up), nothing keeps the
  // loop running once the watchdog stops.
  void MaybeFinish() {
    if (open_connections_ > 0) return;
    if (completed_ < count_ && !timed_out_) return;
    watchdog_->Stop();
  }

  void Progress() { last_progress_ = absl::Now(); }

  void OnWatchdog() {
    if (absl::Now() - last_progress_ < options_.timeout) return;
    timed_out_ = true;
    for (Slot& slot : slots_) {
      if (slot.connection != nullptr) Close(slot.connection.get());
    }
    MaybeFinish();
  }

  // Frees what is left on the loop: the handles close in callbacks that one more run calls.
  absl::Status CloseLoop() {
    slots_.clear();
    watchdog_.reset();
    reaper_.reset();
    if (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
      return absl::InternalError("uv_run: handles still active after closing");
    }
    const int rc = uv_loop_close(&loop_);
    if (rc != 0) return absl::InternalError(absl::StrCat("uv_loop_close: ", uv_strerror(rc)));
    return absl::OkStatus();
  }

  const InjectorOptions options_;
  absl::FunctionRef<InjectMessage(size_t)> make_message_;
  const size_t count_;
  uv_loop_t loop_;
  std::unique_ptr<Timer> watchdog_;
  std::unique_ptr<Timer> reaper_;  // frees closed connections on the next loop turn
  std::vector<int> closed_slots_;  // slots whose connection waits for the reaper
  std::vector<Slot> slots_;
  int open_connections_ = 0;  // connections not yet reaped
  size_t next_index_ = 0;
  size_t completed_ = 0;
  absl::Time last_progress_;
  bool timed_out_ = false;
  std::string last_error_;
  InjectResult result_;
};

}  // namespace

absl::StatusOr<InjectResult> InjectAll(const InjectorOptions& options,
                                       absl::FunctionRef<InjectMessage(size_t index)> make_message,
                                       size_t count) {
  Injector injector(options, make_message, count);
  return injector.Run();
}

}  // namespace volley::bench
