#include "engine/smtp/server_session.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/smtp/content_reader.h"
#include "engine/smtp/esmtp_params.h"
#include "engine/smtp/local_replies.h"
#include "engine/smtp/sasl_server.h"

namespace volley::smtp {
namespace {

// Shared by every session of the process, so that ids are unique across listeners and loops.
std::atomic<uint64_t> next_session_id{0};

OfferedExtensions OfferedBy(const ServerSessionOptions& options) {
  OfferedExtensions offered;
  offered.eightbitmime = options.eightbitmime;
  offered.smtputf8 = options.smtputf8;
  offered.dsn = options.dsn;
  return offered;
}

}  // namespace

class ServerSession::Impl {
 public:
  Impl(const ServerSessionOptions& options, ServerSessionHandler* handler, Transport transport,
       std::string peer_address, std::string local_address)
      : options_(options),
        handler_(handler),
        transport_(std::move(transport)),
        offered_(OfferedBy(options)),
        reader_(options.max_line_length),
        content_reader_(options.max_message_size),
        sasl_(&options_.authenticate) {
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
    ResetTransaction();
    reader_.Clear();
    MaybeShutdownIdle();
    Flush();
  }

  void Feed(absl::string_view bytes) {
    if (closed_ || state_ == State::kTlsHandshake) return;
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
    content_reader_.Clear();
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
  uint64_t session_id() const { return envelope_.session_id; }

 private:
  enum class State {
    kCommand,         // reading command lines
    kAuth,            // reading the response to a SASL challenge (334)
    kContent,         // reading the DATA body or a BDAT chunk (content_reader_ knows which)
    kTlsHandshake,    // after the 220 to STARTTLS, until OnTlsEstablished: input is discarded
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
      // Whatever follows STARTTLS in the clear must never be taken for commands sent under
      // TLS (CVE-2011-0411): it is dropped here, with the rest of this input.
      if (state_ == State::kTlsHandshake) break;
      if (input.empty()) break;
      if (state_ == State::kContent) {
        const size_t counted = content_reader_.Feed(&input);
        if (counted > 0 && !handler_->ContinueData(envelope_, content_reader_.wire_bytes())) {
          Drop();
          break;
        }
        if (content_reader_.finished()) FinishContent();
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
      CloseWith(MakeLocalReply(LocalReply::kShuttingDown, options_.hostname));
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
      case Verb::kBdat:
        OnBdat(command.argument);
        return;
      case Verb::kRset:
        ResetTransaction();
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
    ResetTransaction();
    envelope_.helo = std::move(command.argument);
    envelope_.esmtp = esmtp;
    helo_seen_ = true;
    if (!esmtp) {
      Append(MakeLocalReply(LocalReply::kHeloOk, options_.hostname));
      return;
    }
    Reply reply;
    reply.code = 250;
    reply.lines.push_back(options_.hostname);
    if (options_.pipelining) reply.lines.push_back("PIPELINING");
    reply.lines.push_back(absl::StrCat("SIZE ", options_.max_message_size));
    if (options_.eightbitmime) reply.lines.push_back("8BITMIME");
    if (options_.smtputf8) reply.lines.push_back("SMTPUTF8");
    if (options_.dsn) reply.lines.push_back("DSN");
    if (options_.chunking) reply.lines.push_back("CHUNKING");
    if (StartTlsOffered()) reply.lines.push_back("STARTTLS");
    if (AuthOffered() && !authenticated_) reply.lines.push_back("AUTH PLAIN LOGIN");
    reply.lines.push_back("ENHANCEDSTATUSCODES");
    Append(reply);
  }

  void OnMail(Command command) {
    if (!helo_seen_) {
      BadCommand(MakeLocalReply(LocalReply::kNeedHelo));
      return;
    }
    if (mail_given_) {
      BadCommand(MakeLocalReply(LocalReply::kNestedMail));
      return;
    }
    if (options_.auth_required && !authenticated_) {
      Append(MakeLocalReply(LocalReply::kAuthRequired));
      mail_refused_ = true;
      return;
    }
    if (std::optional<Reply> refusal = CheckParameterList(command.params, envelope_.esmtp)) {
      BadCommand(std::move(*refusal));
      return;
    }
    // A MAIL whose parameter list passes these rules replaces what an earlier refused MAIL left
    // (mail_refused_), even when one of its parameters is refused below.
    ResetTransaction();
    std::variant<MailParamEffects, Reply> checked = CheckMailParams(command.params, offered_);
    if (Reply* refusal = std::get_if<Reply>(&checked)) {
      BadCommand(std::move(*refusal));
      return;
    }
    const MailParamEffects& effects = std::get<MailParamEffects>(checked);
    if (effects.size_hint > options_.max_message_size) {
      Append(MakeLocalReply(LocalReply::kMessageTooBig));
      mail_refused_ = true;
      return;
    }
    size_hint_ = effects.size_hint;
    envelope_.smtputf8_requested = effects.smtputf8;
    envelope_.mail_from = std::move(command.address);
    envelope_.mail_params = std::move(command.params);
    if (std::optional<Reply> rejection = handler_->CheckMailFrom(envelope_)) {
      ResetTransaction();
      Append(*rejection);
      mail_refused_ = true;
      return;
    }
    mail_given_ = true;
    errors_since_ok_ = 0;
    Append(MakeLocalReply(LocalReply::kSenderOk));
  }

  void OnRcpt(Command command) {
    if (!mail_given_) {
      NeedMail(MakeLocalReply(LocalReply::kNeedMail));
      return;
    }
    std::optional<Reply> refusal = CheckParameterList(command.params, envelope_.esmtp);
    if (!refusal.has_value()) refusal = CheckRcptParams(command.params, offered_);
    if (refusal.has_value()) {
      BadCommand(std::move(*refusal));
      return;
    }
    ++rcpt_attempts_;
    if (static_cast<int>(envelope_.recipients.size()) >= options_.max_recipients) {
      Append(MakeLocalReply(LocalReply::kTooManyRecipients));
      return;
    }
    if (std::optional<Reply> rejection = handler_->CheckRecipient(envelope_, command.address)) {
      Append(*rejection);
      return;
    }
    envelope_.recipients.push_back(std::move(command.address));
    envelope_.recipient_params.push_back(std::move(command.params));
    Append(MakeLocalReply(LocalReply::kRecipientOk));
  }

  void OnData() {
    if (!mail_given_) {
      NeedMail(MakeLocalReply(LocalReply::kNeedMail));
      return;
    }
    if (envelope_.bdat) {
      // RFC 3030 2: a transaction uses BDAT or DATA, not both.
      BadCommand(MakeLocalReply(LocalReply::kDataAfterBdat));
      return;
    }
    if (envelope_.recipients.empty()) {
      if (rcpt_attempts_ > 0) {
        // With pipelining the client sent DATA before it saw its RCPTs refused; this tells it
        // not to send the body (RFC 2920 section 3.1).
        Append(MakeLocalReply(LocalReply::kNoValidRecipients));
      } else {
        BadCommand(MakeLocalReply(LocalReply::kNeedRcpt));
      }
      return;
    }
    content_reader_.StartMessage(size_hint_);
    content_reader_.StartData();
    state_ = State::kContent;
    Append(MakeLocalReply(LocalReply::kDataGoAhead));
  }

  // "BDAT <size> [LAST]" (RFC 3030 2).
  void OnBdat(absl::string_view argument) {
    if (!options_.chunking) {
      BadCommand(MakeLocalReply(LocalReply::kNotImplemented));
      return;
    }
    std::optional<BdatArgument> bdat = ParseBdatArgument(argument);
    if (!bdat.has_value()) {
      // Without a size the chunk cannot be skipped: what follows is read as commands.
      BadCommand(MakeLocalReply(LocalReply::kBdatSyntax));
      return;
    }
    chunk_refusal_.reset();
    if (!mail_given_) {
      chunk_refusal_ = MakeLocalReply(LocalReply::kNeedMail);
    } else if (envelope_.recipients.empty()) {
      chunk_refusal_ = MakeLocalReply(LocalReply::kNeedRcpt);
    } else if (!content_reader_.ChunkFits(bdat->size)) {
      chunk_refusal_ = MakeLocalReply(LocalReply::kMessageTooBig);
    } else if (!envelope_.bdat) {
      envelope_.bdat = true;
      content_reader_.StartMessage(std::max(size_hint_, bdat->size));
    }
    content_reader_.StartChunk(bdat->size, bdat->last, /*discard=*/chunk_refusal_.has_value());
    state_ = State::kContent;
    if (content_reader_.finished()) FinishContent();
  }

  // The DATA body or a BDAT chunk has been read.
  void FinishContent() {
    state_ = State::kCommand;
    switch (content_reader_.end()) {
      case ContentReader::End::kMessage:
        HandOver();
        return;
      case ContentReader::End::kChunk:
        Append(MakeLocalReply(LocalReply::kChunkOk, content_reader_.chunk_size()));
        return;
      case ContentReader::End::kTooBig:
        content_reader_.Clear();
        ResetTransaction();
        Append(MakeLocalReply(LocalReply::kMessageTooBig));
        return;
      case ContentReader::End::kDiscarded:
        RefuseChunk();
        return;
    }
  }

  // A chunk whose BDAT command was refused has been read and thrown away: the refusal is due.
  void RefuseChunk() {
    Reply refusal = std::move(*chunk_refusal_);
    chunk_refusal_.reset();
    if (refusal.code == 552) {
      // The message cannot be taken whole: the transaction is over (RFC 3030 2).
      content_reader_.Clear();
      ResetTransaction();
      Append(refusal);
    } else if (!mail_given_) {
      NeedMail(std::move(refusal));
    } else {
      BadCommand(std::move(refusal));
    }
  }

  // The message is complete: hand it to the handler and wait for its reply.
  void HandOver() {
    Envelope envelope = envelope_;
    ResetTransaction();
    std::string content = content_reader_.TakeContent();
    state_ = State::kWaitingHandler;
    const uint64_t sequence = ++message_sequence_;
    std::weak_ptr<bool> alive = alive_;
    handler_->OnMessage(std::move(envelope), std::move(content),
                        [this, alive, sequence](MessageResponse response) {
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
    if (processing_) return;  // Called from within OnMessage: Process() carries on.
    // Pipelined input that arrived behind the message, answered now that its reply is out.
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
    if (mail_given_) {
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
    if (mail_given_) {
      BadCommand(MakeLocalReply(LocalReply::kAuthInTransaction));
      return;
    }
    std::vector<absl::string_view> words =
        absl::StrSplit(argument, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.empty() || words.size() > 2) {
      BadCommand(MakeLocalReply(LocalReply::kAuthSyntax));
      return;
    }
    std::optional<absl::string_view> initial_response;
    if (words.size() == 2) initial_response = words[1];
    OnSaslStep(sasl_.Start(words[0], initial_response));
  }

  // Sends what the SASL exchange asks for, and takes the identity it proved.
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
    authenticated_ = true;
    envelope_.auth_user = std::move(std::get<SaslSuccess>(step).user);
    errors_since_ok_ = 0;
    Append(MakeLocalReply(LocalReply::kAuthOk));
  }

  // A syntax or sequence error, an unknown verb or an over-long line. After too many without a
  // message accepted in between, the client is most likely not speaking SMTP: hang up.
  void BadCommand(Reply reply) {
    Append(reply);
    if (++errors_since_ok_ >= options_.max_errors) {
      CloseWith(MakeLocalReply(LocalReply::kTooManyErrors, options_.hostname));
    }
  }

  // RCPT, DATA or BDAT without a transaction. After a MAIL we refused (452 while the spool is
  // full, a size or sender refusal), a pipelining client has these on their way already
  // (RFC 2920): they are the consequence of our refusal, not the client's error, and must not
  // count towards hanging up on it.
  void NeedMail(Reply reply) {
    if (mail_refused_) {
      Append(reply);
    } else {
      BadCommand(std::move(reply));
    }
  }

  // Answers 421 at once when shutting down and nothing is under way.
  void MaybeShutdownIdle() {
    if (shutdown_ && !closed_ && state_ == State::kCommand && reader_.buffered() == 0) {
      CloseWith(MakeLocalReply(LocalReply::kShuttingDown, options_.hostname));
    }
  }

  void ResetTransaction() {
    mail_given_ = false;
    mail_refused_ = false;
    rcpt_attempts_ = 0;
    size_hint_ = 0;
    envelope_.mail_from.clear();
    envelope_.mail_params.clear();
    envelope_.smtputf8_requested = false;
    envelope_.recipients.clear();
    envelope_.recipient_params.clear();
    envelope_.bdat = false;
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
    Close();
  }

  // Closes without a reply (replies already due still go out first).
  void Drop() {
    Flush();
    content_reader_.Clear();
    ResetTransaction();
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
  const OfferedExtensions offered_;  // for MAIL and RCPT parameters, from options_
  LineReader reader_;
  ContentReader content_reader_;
  SaslServer sasl_;  // the AUTH exchange; state_ is kAuth while it awaits a response

  State state_ = State::kCommand;
  bool closed_ = false;
  bool shutdown_ = false;
  bool refusing_ = false;    // after a 5xx greeting
  bool processing_ = false;  // inside Process(): replies are written when it returns
  bool helo_seen_ = false;
  bool mail_given_ = false;
  bool mail_refused_ = false;  // the last MAIL was refused; no RSET or MAIL since
  bool authenticated_ = false;
  int rcpt_attempts_ = 0;  // RCPT commands in this transaction, accepted or not
  int errors_since_ok_ = 0;
  uint64_t size_hint_ = 0;
  uint64_t message_sequence_ = 0;  // matches `done` to the message it answers
  // The BDAT chunk being read was refused: it is read and dropped, then this is sent.
  std::optional<Reply> chunk_refusal_;

  Envelope envelope_;
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
void ServerSession::Shutdown() { impl_->Shutdown(); }
bool ServerSession::wants_input() const { return impl_->wants_input(); }
void ServerSession::set_resume_reading(absl::AnyInvocable<void()> resume) {
  impl_->set_resume_reading(std::move(resume));
}
bool ServerSession::closed() const { return impl_->closed(); }
uint64_t ServerSession::session_id() const { return impl_->session_id(); }

}  // namespace volley::smtp
