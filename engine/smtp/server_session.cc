#include "engine/smtp/server_session.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/smtp/ehlo.h"
#include "engine/smtp/local_replies.h"
#include "engine/smtp/mail_transaction.h"
#include "engine/smtp/sasl_server.h"

namespace volley::smtp {
namespace {

// Shared by every session of the process, so that ids are unique across listeners and loops.
std::atomic<uint64_t> next_session_id{0};

MailTransaction::Limits LimitsOf(const ServerSessionOptions& options) {
  MailTransaction::Limits limits;
  limits.max_message_size = options.max_message_size;
  limits.max_recipients = options.max_recipients;
  limits.offered.eightbitmime = options.eightbitmime;
  limits.offered.smtputf8 = options.smtputf8;
  limits.offered.dsn = options.dsn;
  limits.memory = options.memory;
  limits.strict_addresses = options.strict_addresses;
  return limits;
}

}  // namespace

// The session itself, behind ServerSession's pimpl; on the thread that drives the session.
class ServerSession::Impl {
 public:
  Impl(const ServerSessionOptions& options, ServerSessionHandler* handler, Transport transport,
       std::string peer_address, std::string local_address)
      : options_(options),
        handler_(handler),
        transport_(std::move(transport)),
        reader_(options.max_line_length),
        transaction_(LimitsOf(options), &envelope_) {
    envelope_.session_id = next_session_id.fetch_add(1, std::memory_order_relaxed) + 1;
    envelope_.peer_address = std::move(peer_address);
    envelope_.local_address = std::move(local_address);
  }

  void Start() {
    if (closed_) return;
    if (options_.greeting.has_value()) {
      const Reply& greeting = *options_.greeting;
      if (greeting.IsTransient()) {
        // RFC 5321 3.1: 421 and close, e.g. when overloaded.
        CloseWith(greeting);
        return;
      }
      // A 5xx greeting: the server takes no mail but waits for QUIT (RFC 5321 3.1).
      refusing_ = greeting.IsPermanent();
      Append(greeting);
    } else {
      Append(MakeLocalReply(LocalReply::kGreeting, options_.hostname));
    }
    Flush();
  }

  void OnTlsEstablished(std::string version, std::string cipher) {
    if (closed_) return;
    envelope_.tls = true;
    envelope_.tls_version = std::move(version);
    envelope_.tls_cipher = std::move(cipher);
    if (state_ != State::kTlsHandshake) return;  // implicit TLS, before Start()
    // RFC 3207 4.2: the server discards any knowledge obtained from the client (the EHLO
    // argument, an AUTH) and the client starts over with EHLO.
    state_ = State::kCommand;
    helo_seen_ = false;
    envelope_.helo.clear();
    envelope_.esmtp = false;
    envelope_.auth_user.clear();
    authenticated_ = false;
    transaction_.Reset();
    reader_.Clear();
    MaybeShutdownIdle();
    Flush();
  }

  void Feed(absl::string_view bytes) {
    if (closed_ || state_ == State::kTlsHandshake) return;
    if (Holding()) {
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
    transaction_.Abandon();
  }

  void Shutdown(std::optional<Reply> reply) {
    if (closed_ || shutdown_) return;
    shutdown_ = true;
    if (reply.has_value()) shutdown_reply_ = *std::move(reply);
    if (!processing_) {
      MaybeShutdownIdle();
      Flush();
    }
  }

  bool wants_input() const { return !closed_ && !Holding(); }
  Waiting waiting() const {
    if (closed_ || Holding()) return Waiting::kNothing;
    return state_ == State::kContent ? Waiting::kContent : Waiting::kCommand;
  }
  uint64_t lines_read() const { return lines_read_; }
  uint64_t content_bytes() const { return transaction_.content_bytes(); }
  void set_resume_reading(absl::AnyInvocable<void()> resume) { resume_ = std::move(resume); }
  bool closed() const { return closed_; }
  uint64_t session_id() const { return envelope_.session_id; }

 private:
  enum class State {
    kCommand,         // reading command lines
    kAuth,            // reading the response to a SASL challenge (334)
    kContent,         // reading the DATA body or a BDAT chunk (transaction_ knows which)
    kTlsHandshake,    // after the 220 to STARTTLS, until OnTlsEstablished: input is discarded
    kWaitingHandler,  // the handler holds a message; input is buffered in pending_
    kVerifying,       // the AUTH credentials are being checked; input is buffered likewise
  };

  bool Holding() const { return state_ == State::kWaitingHandler || state_ == State::kVerifying; }

  // Runs the protocol over `input` until it is used up, the handler holds a message (the rest
  // goes to pending_), or the session closes. Replies are collected and written once at the end.
  void Process(absl::string_view input) {
    processing_ = true;
    while (!closed_) {
      if (Holding()) {
        pending_.append(input.data(), input.size());
        break;
      }
      // Whatever follows STARTTLS in the clear must never be taken for commands sent under
      // TLS (CVE-2011-0411): it is dropped here, with the rest of this input.
      if (state_ == State::kTlsHandshake) break;
      if (input.empty()) break;
      if (state_ == State::kContent) {
        OnTransactionStep(
            transaction_.Feed(&input, [this](const Envelope& envelope, size_t bytes_so_far) {
              return handler_->ContinueData(envelope, bytes_so_far);
            }));
        continue;
      }
      absl::string_view line;
      switch (reader_.Next(&input, &line)) {
        case LineReader::Status::kNeedMore:
          input = absl::string_view();
          break;
        case LineReader::Status::kTooLong:
          if (state_ == State::kAuth) {
            // The response cannot be read: the exchange is over.
            state_ = State::kCommand;
            sasl_.Reset();
          }
          BadCommand(MakeLocalReply(LocalReply::kLineTooLong));
          break;
        case LineReader::Status::kLine:
          ++lines_read_;
          handler_->OnCommandLine(envelope_, line);
          if (state_ == State::kAuth) {
            OnSaslStep(sasl_.Respond(line));
          } else {
            HandleLine(line);
          }
          break;
      }
    }
    processing_ = false;
    MaybeShutdownIdle();
    Flush();
  }

  void HandleLine(absl::string_view line) {
    if (shutdown_) {
      CloseWith(ShutdownReply());
      return;
    }
    ParsedCommand parsed = ParseCommand(line);
    if (refusing_) {
      // After a 5xx greeting only QUIT is answered in earnest (RFC 5321 3.1).
      const Command* command = std::get_if<Command>(&parsed);
      if (command != nullptr && command->verb == Verb::kQuit) {
        CloseWith(MakeLocalReply(LocalReply::kBye));
      } else {
        BadCommand(MakeLocalReply(LocalReply::kNoService));
      }
      return;
    }
    if (Reply* rejection = std::get_if<Reply>(&parsed)) {
      BadCommand(std::move(*rejection));
      return;
    }
    Command& command = std::get<Command>(parsed);
    if (options_.tls_required && !envelope_.tls && !AllowedBeforeStartTls(command.verb)) {
      Refused("tls_required");
      BadCommand(MakeLocalReply(LocalReply::kStartTlsFirst));
      return;
    }
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
        OnTransactionStep(transaction_.Data());
        return;
      case Verb::kBdat:
        OnBdat(command.argument);
        return;
      case Verb::kRset:
        transaction_.Reset();
        Append(MakeLocalReply(LocalReply::kOk));
        return;
      case Verb::kNoop:
        Append(MakeLocalReply(LocalReply::kOk));
        return;
      case Verb::kQuit:
        CloseWith(MakeLocalReply(LocalReply::kBye));
        return;
      case Verb::kVrfy:
        Append(MakeLocalReply(LocalReply::kCannotVrfy));
        return;
      case Verb::kHelp:
        Append(MakeLocalReply(LocalReply::kHelp));
        return;
      case Verb::kStartTls:
        OnStartTls();
        return;
      case Verb::kAuth:
        OnAuth(command.argument);
        return;
    }
  }

  bool StartTlsOffered() const { return transport_.start_tls != nullptr && !envelope_.tls; }

  bool AuthOffered() const {
    return options_.authenticate != nullptr && (envelope_.tls || !options_.auth_requires_tls);
  }

  void OnHelo(Command command, bool esmtp) {
    transaction_.Reset();
    envelope_.helo = std::move(command.argument);
    envelope_.esmtp = esmtp;
    helo_seen_ = true;
    if (!esmtp) {
      Append(MakeLocalReply(LocalReply::kHeloOk, options_.hostname));
      return;
    }
    Capabilities offered{.pipelining = options_.pipelining,
                         .size = true,
                         .max_size = options_.max_message_size,
                         .eightbitmime = options_.eightbitmime,
                         .smtputf8 = options_.smtputf8,
                         .starttls = StartTlsOffered(),
                         .chunking = options_.chunking,
                         .dsn = options_.dsn,
                         .enhanced_status_codes = true};
    if (AuthOffered() && !authenticated_) offered.auth_mechanisms = {"PLAIN", "LOGIN"};
    Append(MakeEhloReply(options_.hostname, offered));
  }

  void OnMail(Command command) {
    if (!helo_seen_) {
      BadCommand(MakeLocalReply(LocalReply::kNeedHelo));
      return;
    }
    OnTransactionStep(transaction_.Mail(
        std::move(command), options_.auth_required && !authenticated_,
        [this](const Envelope& envelope) { return handler_->CheckMailFrom(envelope); }));
  }

  void OnRcpt(Command command) {
    OnTransactionStep(transaction_.Rcpt(
        std::move(command), [this](const Envelope& envelope, absl::string_view recipient) {
          return handler_->CheckRecipient(envelope, recipient);
        }));
  }

  void OnBdat(absl::string_view argument) {
    if (!options_.chunking) {
      BadCommand(MakeLocalReply(LocalReply::kNotImplemented));
      return;
    }
    OnTransactionStep(transaction_.Bdat(argument));
  }

  // Does what the transaction asks for after a command or some content. A reply also ends a
  // content phase (a chunk's 250, a refused chunk, a 552); after a command the state is
  // kCommand already.
  void OnTransactionStep(MailTransaction::Step step) {
    using Kind = MailTransaction::Step::Kind;
    if (!step.refusal.empty()) Refused(step.refusal);
    switch (step.kind) {
      case Kind::kReply:
        state_ = State::kCommand;
        // RFC 5321 3.8: a 421 (a handler's answer to MAIL or RCPT, say "too many messages on
        // this connection") means the server is closing the channel.
        if (step.reply.code == 421) {
          CloseWith(step.reply);
          return;
        }
        Append(step.reply);
        return;
      case Kind::kBadCommand:
        state_ = State::kCommand;
        BadCommand(std::move(step.reply));
        return;
      case Kind::kMailAccepted:
        errors_since_ok_ = 0;
        Append(step.reply);
        return;
      case Kind::kGoAhead:
        state_ = State::kContent;
        Append(step.reply);
        return;
      case Kind::kReadChunk:
        state_ = State::kContent;
        return;
      case Kind::kMore:
        return;
      case Kind::kMessage:
        HandOver();
        return;
      case Kind::kAbort:
        Drop();
        return;
    }
  }

  // The message is complete: hand it to the handler and wait for its reply.
  void HandOver() {
    Envelope envelope = envelope_;
    // The content's memory stays charged until the handler answers (the message is stored).
    MemoryCharge charge;
    std::string content = transaction_.TakeMessage(&charge);
    state_ = State::kWaitingHandler;
    const uint64_t sequence = ++message_sequence_;
    std::weak_ptr<bool> alive = alive_;
    handler_->OnMessage(
        std::move(envelope), std::move(content),
        [this, alive, sequence, charge = std::move(charge)](MessageResponse response) mutable {
          charge.Release();
          if (alive.expired()) return;
          OnHandlerDone(sequence, std::move(response));
        });
  }

  void OnHandlerDone(uint64_t sequence, MessageResponse response) {
    if (closed_ || state_ != State::kWaitingHandler || sequence != message_sequence_) return;
    state_ = State::kCommand;
    if (response.then == MessageResponse::Then::kDisconnect) {
      Drop();
      return;
    }
    const Reply& reply = response.reply;
    if (reply.IsPositive()) errors_since_ok_ = 0;
    // RFC 5321 3.8: a 421 means the server is closing the channel.
    if (response.then == MessageResponse::Then::kClose || reply.code == 421) {
      CloseWith(reply);
      return;
    }
    Append(reply);
    ResumeAfterWait();
  }

  // The handler or the credential check answered: the input that arrived behind it is taken
  // now that the answer is out.
  void ResumeAfterWait() {
    if (processing_) return;  // Called from within the call that waited: Process() carries on.
    std::string input = std::move(pending_);
    pending_.clear();
    Process(input);
    if (wants_input() && resume_) resume_();
  }

  void OnStartTls() {
    if (envelope_.tls) {
      BadCommand(MakeLocalReply(LocalReply::kTlsActive));
      return;
    }
    if (!StartTlsOffered()) {
      BadCommand(MakeLocalReply(LocalReply::kNotImplemented));
      return;
    }
    if (transaction_.active()) {
      BadCommand(MakeLocalReply(LocalReply::kStartTlsInTransaction));
      return;
    }
    Append(MakeLocalReply(LocalReply::kStartTlsGoAhead));
    Flush();
    state_ = State::kTlsHandshake;
    reader_.Clear();
    transport_.start_tls();
  }

  // "AUTH <mechanism> [initial-response]" (RFC 4954 4).
  void OnAuth(absl::string_view argument) {
    if (options_.authenticate == nullptr) {
      BadCommand(MakeLocalReply(LocalReply::kNotImplemented));
      return;
    }
    if (!helo_seen_ || !envelope_.esmtp) {
      BadCommand(MakeLocalReply(LocalReply::kNeedEhlo));
      return;
    }
    if (!AuthOffered()) {
      BadCommand(MakeLocalReply(LocalReply::kEncryptionRequired));
      return;
    }
    if (authenticated_) {
      BadCommand(MakeLocalReply(LocalReply::kAlreadyAuthenticated));
      return;
    }
    if (transaction_.active()) {
      BadCommand(MakeLocalReply(LocalReply::kAuthInTransaction));
      return;
    }
    OnSaslStep(sasl_.StartCommand(argument));
  }

  // Sends what the SASL exchange asks for, and has the credentials it yields checked.
  void OnSaslStep(SaslStep step) {
    if (const SaslChallenge* challenge = std::get_if<SaslChallenge>(&step)) {
      state_ = State::kAuth;
      output_.append(challenge->ToWire());
      return;
    }
    state_ = State::kCommand;
    if (SaslFailure* failure = std::get_if<SaslFailure>(&step)) {
      BadCommand(std::move(failure->reply));
      return;
    }
    SaslCredentials& credentials = std::get<SaslCredentials>(step);
    state_ = State::kVerifying;
    const uint64_t sequence = ++message_sequence_;
    std::weak_ptr<bool> alive = alive_;
    std::string user = credentials.user;
    options_.authenticate(
        AuthAttempt{envelope_.peer_address, std::move(credentials.user),
                    std::move(credentials.password)},
        [this, alive, sequence, user = std::move(user)](bool ok) mutable {
          if (alive.expired()) return;
          if (closed_ || state_ != State::kVerifying || sequence != message_sequence_) return;
          state_ = State::kCommand;
          if (ok) {
            authenticated_ = true;
            envelope_.auth_user = std::move(user);
            errors_since_ok_ = 0;
            Append(MakeLocalReply(LocalReply::kAuthOk));
          } else {
            Refused("auth_failed");
            BadCommand(MakeLocalReply(LocalReply::kAuthInvalid));
          }
          if (!processing_) Flush();
          ResumeAfterWait();
        });
  }

  // A syntax or sequence error, an unknown verb or an over-long line. After too many without a
  // message accepted in between, the client is most likely not speaking SMTP: hang up.
  void BadCommand(Reply reply) {
    Append(reply);
    if (++errors_since_ok_ >= options_.max_errors) {
      Refused("too_many_errors");
      CloseWith(MakeLocalReply(LocalReply::kTooManyErrors, options_.hostname));
    }
  }

  // Answers 421 at once when shutting down and nothing is under way.
  void MaybeShutdownIdle() {
    if (shutdown_ && !closed_ && state_ == State::kCommand && reader_.buffered() == 0) {
      CloseWith(ShutdownReply());
    }
  }

  Reply ShutdownReply() const {
    if (shutdown_reply_.has_value()) return *shutdown_reply_;
    return MakeLocalReply(LocalReply::kShuttingDown, options_.hostname);
  }

  void Append(const Reply& reply) { output_.append(reply.ToWire()); }
  void Refused(absl::string_view reason) const {
    if (options_.on_refusal) options_.on_refusal(reason);
  }

  void Flush() {
    if (output_.empty()) return;
    std::string bytes = std::move(output_);
    output_.clear();
    transport_.write(std::move(bytes));
  }

  void CloseWith(const Reply& reply) {
    Append(reply);
    Flush();
    Close();
  }

  // Closes without a reply (replies already due still go out first).
  void Drop() {
    Flush();
    transaction_.Abandon();
    Close();
  }

  void Close() {
    closed_ = true;
    pending_.clear();
    if (transport_.close) transport_.close();
  }

  const ServerSessionOptions options_;
  ServerSessionHandler* const handler_;
  Transport transport_;
  Envelope envelope_;
  LineReader reader_;
  SaslServer sasl_;  // the AUTH exchange; state_ is kAuth while it awaits a response
  // MAIL to the end of the content, in envelope_'s transaction fields.
  MailTransaction transaction_;

  State state_ = State::kCommand;
  bool closed_ = false;
  bool shutdown_ = false;
  bool refusing_ = false;    // after a 5xx greeting
  bool processing_ = false;  // inside Process(): replies are written when it returns
  bool helo_seen_ = false;
  bool authenticated_ = false;
  int errors_since_ok_ = 0;
  uint64_t lines_read_ = 0;
  // Matches a `done` (the handler's, the credential check's) to the wait it answers.
  uint64_t message_sequence_ = 0;
  std::optional<Reply> shutdown_reply_;  // what Shutdown() answers, when not the default

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
void ServerSession::OnTlsEstablished(std::string version, std::string cipher) {
  impl_->OnTlsEstablished(std::move(version), std::move(cipher));
}
void ServerSession::Feed(absl::string_view bytes) { impl_->Feed(bytes); }
void ServerSession::OnDisconnect() { impl_->OnDisconnect(); }
void ServerSession::Shutdown(std::optional<Reply> reply) { impl_->Shutdown(std::move(reply)); }
ServerSession::Waiting ServerSession::waiting() const { return impl_->waiting(); }
uint64_t ServerSession::lines_read() const { return impl_->lines_read(); }
uint64_t ServerSession::content_bytes() const { return impl_->content_bytes(); }
bool ServerSession::wants_input() const { return impl_->wants_input(); }
void ServerSession::set_resume_reading(absl::AnyInvocable<void()> resume) {
  impl_->set_resume_reading(std::move(resume));
}
bool ServerSession::closed() const { return impl_->closed(); }
uint64_t ServerSession::session_id() const { return impl_->session_id(); }

}  // namespace volley::smtp
