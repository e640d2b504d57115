#include "engine/smtp/server_session.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace volley::smtp {
namespace {

// A reply without an enhanced status code (greeting, EHLO/HELO, 354).
Reply PlainReply(int code, std::string text) {
  Reply reply;
  reply.code = code;
  reply.lines.push_back(std::move(text));
  return reply;
}

Reply CodedReply(int code, int klass, int subject, int detail, std::string text) {
  Reply reply;
  reply.code = code;
  reply.enhanced = EnhancedCode{klass, subject, detail};
  reply.lines.push_back(std::move(text));
  return reply;
}

// Caps the up-front reservation for a message body announced with SIZE=, so that a client
// cannot make us allocate max_message_size per connection just by asking.
constexpr uint64_t kMaxReserve = 1024 * 1024;

}  // namespace

class ServerSession::Impl {
 public:
  Impl(const ServerSessionOptions& options, ServerSessionHandler* handler, Transport transport,
       std::string peer_address, std::string local_address)
      : options_(options),
        handler_(handler),
        transport_(std::move(transport)),
        reader_(options.max_line_length),
        unstuffer_(options.max_message_size) {
    envelope_.peer_address = std::move(peer_address);
    envelope_.local_address = std::move(local_address);
  }

  void Start() {
    if (closed_) return;
    Append(PlainReply(220, absl::StrCat(options_.hostname, " ESMTP Volley")));
    Flush();
  }

  void Feed(absl::string_view bytes) {
    if (closed_) return;
    if (state_ == State::kWaitingHandler) {
      // The driver may have read more before it saw wants_input() turn false.
      pending_.append(bytes.data(), bytes.size());
      return;
    }
    Process(bytes);
  }

  void OnDisconnect() {
    // A message with the handler is not affected; its `done` will find the session closed.
    closed_ = true;
    pending_.clear();
    content_.clear();
    ResetTransaction();
  }

  void Shutdown() {
    if (closed_ || shutdown_) return;
    shutdown_ = true;
    if (!processing_) {
      MaybeShutdownIdle();
      Flush();
    }
  }

  bool wants_input() const { return !closed_ && state_ != State::kWaitingHandler; }
  void set_resume_reading(absl::AnyInvocable<void()> resume) { resume_ = std::move(resume); }
  bool closed() const { return closed_; }

 private:
  enum class State {
    kCommand,         // reading command lines
    kData,            // reading the DATA body
    kWaitingHandler,  // the handler holds a message; input is buffered in pending_
  };

  // Runs the protocol over `input` until it is used up, the handler holds a message (the rest
  // goes to pending_), or the session closes. Replies are collected and written once at the end.
  void Process(absl::string_view input) {
    processing_ = true;
    while (!closed_) {
      if (state_ == State::kWaitingHandler) {
        pending_.append(input.data(), input.size());
        break;
      }
      if (input.empty()) break;
      if (state_ == State::kData) {
        const size_t used = unstuffer_.Feed(input, &content_);
        input.remove_prefix(used);
        if (unstuffer_.done()) FinishData();
        continue;
      }
      absl::string_view line;
      switch (reader_.Next(&input, &line)) {
        case LineReader::Status::kNeedMore:
          input = absl::string_view();
          break;
        case LineReader::Status::kTooLong:
          BadCommand(CodedReply(500, 5, 5, 6, "Error: line too long"));
          break;
        case LineReader::Status::kLine:
          HandleLine(line);
          break;
      }
    }
    processing_ = false;
    MaybeShutdownIdle();
    Flush();
  }

  void HandleLine(absl::string_view line) {
    if (shutdown_) {
      CloseWith(CodedReply(421, 4, 3, 2,
                           absl::StrCat(options_.hostname,
                                        " Service shutting down, closing "
                                        "transmission channel")));
      return;
    }
    ParsedCommand parsed = ParseCommand(line);
    if (Reply* rejection = std::get_if<Reply>(&parsed)) {
      BadCommand(std::move(*rejection));
      return;
    }
    Command& command = std::get<Command>(parsed);
    switch (command.verb) {
      case Verb::kEhlo:
        OnHelo(std::move(command), /*esmtp=*/true);
        return;
      case Verb::kHelo:
        OnHelo(std::move(command), /*esmtp=*/false);
        return;
      case Verb::kMail:
        OnMail(std::move(command));
        return;
      case Verb::kRcpt:
        OnRcpt(std::move(command));
        return;
      case Verb::kData:
        OnData();
        return;
      case Verb::kRset:
        ResetTransaction();
        Append(CodedReply(250, 2, 0, 0, "Ok"));
        return;
      case Verb::kNoop:
        Append(CodedReply(250, 2, 0, 0, "Ok"));
        return;
      case Verb::kQuit:
        CloseWith(CodedReply(221, 2, 0, 0, "Bye"));
        return;
      case Verb::kVrfy:
        Append(CodedReply(252, 2, 5, 0,
                          "Cannot VRFY user, but will accept message and attempt delivery"));
        return;
      case Verb::kHelp:
        Append(CodedReply(214, 2, 0, 0, "See RFC 5321"));
        return;
      case Verb::kBdat:
      case Verb::kStartTls:
      case Verb::kAuth:
        BadCommand(CodedReply(502, 5, 5, 1, "Error: command not implemented"));
        return;
    }
  }

  void OnHelo(Command command, bool esmtp) {
    ResetTransaction();
    envelope_.helo = std::move(command.argument);
    envelope_.esmtp = esmtp;
    helo_seen_ = true;
    if (!esmtp) {
      Append(PlainReply(250, options_.hostname));
      return;
    }
    Reply reply;
    reply.code = 250;
    reply.lines.push_back(options_.hostname);
    if (options_.pipelining) reply.lines.push_back("PIPELINING");
    reply.lines.push_back(absl::StrCat("SIZE ", options_.max_message_size));
    reply.lines.push_back("8BITMIME");
    if (options_.smtputf8) reply.lines.push_back("SMTPUTF8");
    reply.lines.push_back("ENHANCEDSTATUSCODES");
    Append(reply);
  }

  void OnMail(Command command) {
    if (!helo_seen_) {
      BadCommand(CodedReply(503, 5, 5, 1, "Error: send HELO/EHLO first"));
      return;
    }
    if (mail_given_) {
      BadCommand(CodedReply(503, 5, 5, 1, "Error: nested MAIL command"));
      return;
    }
    size_hint_ = 0;
    for (const auto& [keyword, value] : command.params) {
      if (!envelope_.esmtp) {
        BadCommand(CodedReply(555, 5, 5, 4, "Error: parameters need EHLO"));
        return;
      }
      if (keyword == "SIZE") {
        uint64_t size = 0;
        if (!absl::SimpleAtoi(value, &size)) {
          BadCommand(CodedReply(501, 5, 5, 4, "Error: bad SIZE parameter"));
          return;
        }
        if (size > options_.max_message_size) {
          Append(CodedReply(552, 5, 3, 4, "Error: message size exceeds fixed limit"));
          return;
        }
        size_hint_ = size;
      } else if (keyword == "BODY") {
        if (!absl::EqualsIgnoreCase(value, "7BIT") && !absl::EqualsIgnoreCase(value, "8BITMIME")) {
          BadCommand(CodedReply(501, 5, 5, 4, "Error: unsupported BODY parameter"));
          return;
        }
      } else if (keyword == "SMTPUTF8" && options_.smtputf8 && value.empty()) {
        // Accepted: the message and its addresses may carry UTF-8 (RFC 6531).
      } else {
        BadCommand(
            CodedReply(555, 5, 5, 4, absl::StrCat("Error: unsupported parameter ", keyword)));
        return;
      }
    }
    envelope_.mail_from = std::move(command.address);
    envelope_.mail_params = std::move(command.params);
    if (std::optional<Reply> rejection = handler_->CheckMailFrom(envelope_)) {
      envelope_.mail_from.clear();
      envelope_.mail_params.clear();
      Append(*rejection);
      return;
    }
    mail_given_ = true;
    errors_since_ok_ = 0;
    Append(CodedReply(250, 2, 1, 0, "Ok"));
  }

  void OnRcpt(Command command) {
    if (!mail_given_) {
      BadCommand(CodedReply(503, 5, 5, 1, "Error: need MAIL command"));
      return;
    }
    if (!command.params.empty()) {
      BadCommand(
          CodedReply(555, 5, 5, 4,
                     absl::StrCat("Error: unsupported parameter ", command.params.front().first)));
      return;
    }
    ++rcpt_attempts_;
    if (static_cast<int>(envelope_.recipients.size()) >= options_.max_recipients) {
      Append(CodedReply(452, 4, 5, 3, "Error: too many recipients"));
      return;
    }
    if (std::optional<Reply> rejection = handler_->CheckRecipient(envelope_, command.address)) {
      Append(*rejection);
      return;
    }
    envelope_.recipients.push_back(std::move(command.address));
    Append(CodedReply(250, 2, 1, 5, "Ok"));
  }

  void OnData() {
    if (!mail_given_) {
      BadCommand(CodedReply(503, 5, 5, 1, "Error: need MAIL command"));
      return;
    }
    if (envelope_.recipients.empty()) {
      if (rcpt_attempts_ > 0) {
        // With pipelining the client sent DATA before it saw its RCPTs refused; this tells it
        // not to send the body (RFC 2920 section 3.1).
        Append(CodedReply(554, 5, 5, 1, "Error: no valid recipients"));
      } else {
        BadCommand(CodedReply(503, 5, 5, 1, "Error: need RCPT command"));
      }
      return;
    }
    unstuffer_.Reset();
    content_.clear();
    content_.reserve(std::min<uint64_t>(size_hint_, kMaxReserve));
    state_ = State::kData;
    Append(PlainReply(354, "End data with <CR><LF>.<CR><LF>"));
  }

  void FinishData() {
    if (unstuffer_.overflowed()) {
      content_.clear();
      ResetTransaction();
      state_ = State::kCommand;
      Append(CodedReply(552, 5, 3, 4, "Error: message size exceeds fixed limit"));
      return;
    }
    Envelope envelope = envelope_;
    ResetTransaction();
    std::string content = std::move(content_);
    content_.clear();
    state_ = State::kWaitingHandler;
    const uint64_t sequence = ++message_sequence_;
    std::weak_ptr<bool> alive = alive_;
    handler_->OnMessage(std::move(envelope), std::move(content),
                        [this, alive, sequence](Reply reply) {
                          if (alive.expired()) return;
                          OnHandlerDone(sequence, std::move(reply));
                        });
  }

  void OnHandlerDone(uint64_t sequence, Reply reply) {
    if (closed_ || state_ != State::kWaitingHandler || sequence != message_sequence_) return;
    state_ = State::kCommand;
    if (reply.code == 0) {
      // The handler wants the connection dropped without a reply.
      Flush();
      closed_ = true;
      pending_.clear();
      if (transport_.close) transport_.close();
      return;
    }
    if (reply.IsPositive()) errors_since_ok_ = 0;
    Append(reply);
    if (processing_) return;  // Called from within OnMessage: Process() carries on.
    // Pipelined input that arrived behind the message, answered now that its reply is out.
    std::string input = std::move(pending_);
    pending_.clear();
    Process(input);
    if (wants_input() && resume_) resume_();
  }

  // A syntax or sequence error, an unknown verb or an over-long line. After too many without a
  // message accepted in between, the client is most likely not speaking SMTP: hang up.
  void BadCommand(Reply reply) {
    Append(reply);
    if (++errors_since_ok_ >= options_.max_errors) {
      CloseWith(
          CodedReply(421, 4, 7, 0, absl::StrCat(options_.hostname, " Error: too many errors")));
    }
  }

  // Answers 421 at once when shutting down and nothing is under way.
  void MaybeShutdownIdle() {
    if (shutdown_ && !closed_ && state_ == State::kCommand && reader_.buffered() == 0) {
      CloseWith(CodedReply(
          421, 4, 3, 2,
          absl::StrCat(options_.hostname, " Service shutting down, closing transmission channel")));
    }
  }

  void ResetTransaction() {
    mail_given_ = false;
    rcpt_attempts_ = 0;
    size_hint_ = 0;
    envelope_.mail_from.clear();
    envelope_.mail_params.clear();
    envelope_.recipients.clear();
  }

  void Append(const Reply& reply) { output_.append(reply.ToWire()); }

  void Flush() {
    if (output_.empty()) return;
    std::string bytes = std::move(output_);
    output_.clear();
    transport_.write(std::move(bytes));
  }

  void CloseWith(const Reply& reply) {
    Append(reply);
    Flush();
    closed_ = true;
    pending_.clear();
    if (transport_.close) transport_.close();
  }

  const ServerSessionOptions options_;
  ServerSessionHandler* const handler_;
  Transport transport_;
  LineReader reader_;
  DotUnstuffer unstuffer_;

  State state_ = State::kCommand;
  bool closed_ = false;
  bool shutdown_ = false;
  bool processing_ = false;  // inside Process(): replies are written when it returns
  bool helo_seen_ = false;
  bool mail_given_ = false;
  int rcpt_attempts_ = 0;  // RCPT commands in this transaction, accepted or not
  int errors_since_ok_ = 0;
  uint64_t size_hint_ = 0;
  uint64_t message_sequence_ = 0;  // matches `done` to the message it answers

  Envelope envelope_;
  std::string content_;  // the DATA body received so far
  std::string pending_;  // input received while the handler holds a message
  std::string output_;   // replies not yet written
  absl::AnyInvocable<void()> resume_;
  // `done` callbacks hold a weak_ptr to this, so that calling one after the session is gone
  // does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

ServerSession::ServerSession(const ServerSessionOptions& options, ServerSessionHandler* handler,
                             Transport transport, std::string peer_address,
                             std::string local_address)
    : impl_(std::make_unique<Impl>(options, handler, std::move(transport), std::move(peer_address),
                                   std::move(local_address))) {}

ServerSession::~ServerSession() = default;

void ServerSession::Start() { impl_->Start(); }
void ServerSession::Feed(absl::string_view bytes) { impl_->Feed(bytes); }
void ServerSession::OnDisconnect() { impl_->OnDisconnect(); }
void ServerSession::Shutdown() { impl_->Shutdown(); }
bool ServerSession::wants_input() const { return impl_->wants_input(); }
void ServerSession::set_resume_reading(absl::AnyInvocable<void()> resume) {
  impl_->set_resume_reading(std::move(resume));
}
bool ServerSession::closed() const { return impl_->closed(); }

}  // namespace volley::smtp
