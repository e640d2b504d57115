#include "bench/smtp_injector.h"

#include <uv.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/net_address.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/ehlo.h"
#include "engine/smtp/line_reader.h"
#include "engine/smtp/reply_parser.h"

namespace volley::bench {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr size_t kMaxReplyLine = 4096;  // lenient: RFC 5321 says 512
constexpr int kMaxConsecutiveFailures = 3;

smtp::Reply Synthetic(std::string text) {
  smtp::Reply reply;
  reply.code = 0;
  reply.lines.push_back(std::move(text));
  return reply;
}

class Injector {
 public:
  Injector(const InjectorOptions& options,
           absl::FunctionRef<InjectMessage(size_t index)> make_message, size_t count)
      : options_(options),
        make_message_(make_message),
        count_(count),
        read_buffer_(new char[kReadBufferSize]) {
    result_.replies.resize(count);
    result_.recipient_replies.resize(count);
    result_.acked_at.resize(count);
  }

  absl::StatusOr<InjectResult> Run() {
    absl::StatusOr<sockaddr_storage> address = MakeSocketAddress(options_.host, options_.port);
    if (!address.ok()) return address.status();
    address_ = *address;
    if (options_.connections < 1) return absl::InvalidArgumentError("connections < 1");
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &watchdog_);
    watchdog_.data = this;
    result_.started = absl::Now();
    last_progress_ = result_.started;
    if (count_ == 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    } else {
      const uint64_t period = std::clamp<uint64_t>(
          static_cast<uint64_t>(absl::ToInt64Milliseconds(options_.timeout)) / 4, 1, 500);
      uv_timer_start(&watchdog_, &OnWatchdog, period, period);
      const int slots = static_cast<int>(std::min<size_t>(options_.connections, count_));
      slots_.resize(slots);
      for (int i = 0; i < slots; ++i) Connect(i);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    const int rc = uv_loop_close(&loop_);
    if (rc != 0) return absl::InternalError(absl::StrCat("uv_loop_close: ", uv_strerror(rc)));
    result_.finished = absl::Now();
    if (timed_out_) {
      return absl::DeadlineExceededError(
          absl::StrCat("smtp injector: no progress for ", absl::FormatDuration(options_.timeout),
                       " (", completed_, " of ", count_, " messages done)"));
    }
    return std::move(result_);
  }

 private:
  enum class State { kConnecting, kGreeting, kEhlo, kTransaction, kBody, kRset, kQuit };

  struct Connection {
    Injector* owner = nullptr;
    int slot = 0;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
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

  struct Slot {
    int failures = 0;  // connection failures since the last completed message
    bool gave_up = false;
    bool connected = false;  // has a Connection object
  };

  struct WriteRequest {
    uv_write_t req;
    std::string data;
    Connection* connection;
  };

  void Connect(int slot) {
    auto* c = new Connection;
    c->owner = this;
    c->slot = slot;
    slots_[slot].connected = true;
    ++open_connections_;
    uv_tcp_init(&loop_, &c->tcp);
    c->tcp.data = c;
    c->connect_req.data = c;
    const int rc = uv_tcp_connect(&c->connect_req, &c->tcp,
                                  reinterpret_cast<const sockaddr*>(&address_), &OnConnect);
    if (rc != 0) Fail(c, absl::StrCat("connect: ", uv_strerror(rc)));
  }

  static void OnConnect(uv_connect_t* req, int status) {
    auto* c = static_cast<Connection*>(req->data);
    Injector* self = c->owner;
    if (c->closing) return;
    if (status < 0) {
      self->Fail(c, absl::StrCat("connect: ", uv_strerror(status)));
      return;
    }
    self->Progress();
    uv_tcp_nodelay(&c->tcp, 1);
    c->state = State::kGreeting;
    const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &OnAlloc, &OnRead);
    if (rc != 0) self->Fail(c, absl::StrCat("uv_read_start: ", uv_strerror(rc)));
  }

  // One buffer for all connections: libuv calls the read callback right after the alloc.
  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    Injector* self = static_cast<Connection*>(handle->data)->owner;
    buf->base = self->read_buffer_.get();
    buf->len = kReadBufferSize;
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    Injector* self = c->owner;
    if (c->closing || nread == 0) return;
    if (nread < 0) {
      if (nread == UV_EOF && c->state == State::kQuit) {
        self->Close(c);
      } else {
        self->Fail(c, nread == UV_EOF ? "connection closed by the server"
                                      : absl::StrCat("read: ", uv_strerror(nread)));
      }
      return;
    }
    absl::string_view input(buf->base, static_cast<size_t>(nread));
    while (!c->closing) {
      absl::string_view line;
      const smtp::LineReader::Status status = c->reader.Next(&input, &line);
      if (status == smtp::LineReader::Status::kNeedMore) break;
      if (status == smtp::LineReader::Status::kTooLong) {
        self->Fail(c, "protocol error: reply line too long");
        return;
      }
      switch (c->parser.FeedLine(line)) {
        case smtp::ReplyParser::Result::kIncomplete:
          break;
        case smtp::ReplyParser::Result::kError:
          self->Fail(c, absl::StrCat("protocol error: ", c->parser.error().message()));
          return;
        case smtp::ReplyParser::Result::kComplete:
          self->OnReply(c, c->parser.Take());
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
        NextMessage(c);
        return;
      }
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
    c->commands.push_back(absl::StrCat("MAIL FROM:<", message.mail_from, ">\r\n"));
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

  void Write(Connection* c, std::string bytes) {
    if (c->closing) return;
    auto* w = new WriteRequest;
    w->data = std::move(bytes);
    w->connection = c;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, &OnWritten);
    if (rc != 0) {
      delete w;
      Fail(c, absl::StrCat("write: ", uv_strerror(rc)));
    }
  }

  static void OnWritten(uv_write_t* req, int status) {
    auto* w = static_cast<WriteRequest*>(req->data);
    Connection* c = w->connection;
    delete w;
    if (status < 0 && !c->closing) {
      c->owner->Fail(c, absl::StrCat("write: ", uv_strerror(status)));
    }
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

  void Close(Connection* c) {
    if (c->closing) return;
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &OnClosed);
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* c = static_cast<Connection*>(handle->data);
    Injector* self = c->owner;
    const int slot_index = c->slot;
    const bool failed = c->failed;
    delete c;
    --self->open_connections_;
    Slot& slot = self->slots_[slot_index];
    slot.connected = false;
    if (self->timed_out_) {
      self->MaybeFinish();
      return;
    }
    if (failed && ++slot.failures >= kMaxConsecutiveFailures) slot.gave_up = true;
    if (self->next_index_ < self->count_ && !slot.gave_up) {
      self->Connect(slot_index);
      return;
    }
    if (self->open_connections_ == 0 && self->next_index_ < self->count_) {
      // Every slot gave up: what is left cannot be sent.
      while (self->next_index_ < self->count_) {
        self->Finish(self->next_index_++, Synthetic(absl::StrCat("not sent: ", self->last_error_)));
      }
    }
    self->MaybeFinish();
  }

  void MaybeFinish() {
    if (open_connections_ > 0) return;
    if (completed_ < count_ && !timed_out_) return;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&watchdog_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    }
  }

  void Progress() { last_progress_ = absl::Now(); }

  static void OnWatchdog(uv_timer_t* timer) {
    auto* self = static_cast<Injector*>(timer->data);
    if (absl::Now() - self->last_progress_ < self->options_.timeout) return;
    self->timed_out_ = true;
    uv_walk(
        &self->loop_,
        [](uv_handle_t* handle, void*) {
          if (handle->type == UV_TCP && !uv_is_closing(handle)) {
            static_cast<Connection*>(handle->data)
                ->owner->Close(static_cast<Connection*>(handle->data));
          }
        },
        nullptr);
    self->MaybeFinish();
  }

  const InjectorOptions options_;
  absl::FunctionRef<InjectMessage(size_t)> make_message_;
  const size_t count_;
  std::unique_ptr<char[]> read_buffer_;
  sockaddr_storage address_;
  uv_loop_t loop_;
  uv_timer_t watchdog_;
  std::vector<Slot> slots_;
  int open_connections_ = 0;
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
