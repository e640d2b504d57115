#include "engine/smtp/client_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/bytes.h"
#include "engine/base/logging.h"
#include "engine/message/mime_downgrade.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/local_replies.h"

namespace volley::smtp {
namespace {

// Reply lines are at most 512 octets by RFC 5321; real servers send longer ones, so allow more
// before calling it a protocol error.
constexpr size_t kMaxReplyLine = 8192;

bool HasMechanism(const Capabilities& caps, absl::string_view mechanism) {
  return std::find(caps.auth_mechanisms.begin(), caps.auth_mechanisms.end(), mechanism) !=
         caps.auth_mechanisms.end();
}

// RFC 5321 4.5.3.1.10: a server that takes no more recipients in this transaction says 452
// (RFC 3463: 4.5.3); some say it only in words.
bool IsTooManyRecipients(const Reply& reply) {
  if (reply.code != 452) return false;
  if (reply.enhanced) {
    return reply.enhanced->subject == 5 && reply.enhanced->detail == 3;
  }
  return absl::StrContains(absl::AsciiStrToLower(reply.Text()), "too many recipients");
}

// AUTH steps, in Pending::index.
enum AuthStep : size_t { kAuthPlain, kAuthLoginStart, kAuthLoginUser, kAuthLoginPassword };

}  // namespace

ClientSession::ClientSession(ProtocolOptions options, Callbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)), lines_(kMaxReplyLine) {
  expected_.push_back({Expect::kBanner});
}

void ClientSession::FlushOutput() {
  if (depth_ > 0 || out_.empty()) return;
  std::string bytes;
  bytes.swap(out_);
  callbacks_.write(std::move(bytes));
}

void ClientSession::OnData(absl::string_view bytes) {
  ++depth_;
  absl::string_view input = bytes;
  while (!input.empty() && phase_ != Phase::kDone) {
    absl::string_view line;
    const LineReader::Status status = lines_.Next(&input, &line);
    if (status == LineReader::Status::kNeedMore) break;
    if (status == LineReader::Status::kTooLong) {
      Fail({SessionError::Kind::kProtocol, std::nullopt,
            absl::StrCat("reply line longer than ", kMaxReplyLine, " octets")});
      break;
    }
    const ReplyParser::Result result = parser_.FeedLine(line);
    if (result == ReplyParser::Result::kError) {
      Fail({SessionError::Kind::kProtocol, std::nullopt,
            absl::StrCat("malformed reply: ", parser_.error().message())});
      break;
    }
    if (result == ReplyParser::Result::kComplete) HandleReply(parser_.Take());
    // RFC 3207 5: nothing the server sent after its 220 to STARTTLS may be used; the TLS
    // layer starts on a clean slate.
    if (phase_ == Phase::kTlsHandshake) break;
  }
  --depth_;
  FlushOutput();
}

void ClientSession::HandleReply(Reply reply) {
  if (callbacks_.on_reply) callbacks_.on_reply(reply);
  if (expected_.empty()) {
    // Servers announce an idle-timeout shutdown with an unsolicited 421.
    if (reply.code == 421) {
      Fail({SessionError::Kind::kServerClosing, reply, "server closed the session"});
    } else {
      Fail({SessionError::Kind::kProtocol, reply, "reply without a command"});
    }
    return;
  }
  const Pending pending = expected_.front();
  expected_.pop_front();
  switch (pending.what) {
    case Expect::kBanner:
    case Expect::kEhlo:
    case Expect::kHelo:
    case Expect::kStartTls:
      HandleGreetingReply(pending, std::move(reply));
      return;
    case Expect::kAuth:
      HandleAuthReply(pending, std::move(reply));
      return;
    case Expect::kQuit:
      phase_ = Phase::kDone;
      if (callbacks_.on_quit) callbacks_.on_quit();
      return;
    case Expect::kRset:
      if (!reply.IsPositive()) {
        Fail({reply.code == 421 ? SessionError::Kind::kServerClosing : SessionError::Kind::kReset,
              reply, "RSET refused"});
        return;
      }
      // Without pipelining, MAIL waited for this reply.
      if (!capabilities_.pipelining) {
        SendLine(MailCommand());
        expected_.push_back({Expect::kMail});
      }
      return;
    case Expect::kMail:
    case Expect::kRcpt:
    case Expect::kData:
    case Expect::kDot:
      if (reply.code == 421) {
        Fail({SessionError::Kind::kServerClosing, reply, "server closed the session"});
        return;
      }
      HandleTransactionReply(pending, std::move(reply));
      return;
  }
}

void ClientSession::HandleGreetingReply(const Pending& pending, Reply reply) {
  switch (pending.what) {
    case Expect::kBanner:
      if (reply.code != 220) {
        Fail({SessionError::Kind::kGreeting, reply, "greeting refused"});
        return;
      }
      SendLine(absl::StrCat("EHLO ", options_.ehlo_name));
      expected_.push_back({Expect::kEhlo});
      phase_ = Phase::kEhlo;
      return;
    case Expect::kEhlo:
      if (reply.IsPositive()) {
        capabilities_ = ParseEhloReply(reply);
        esmtp_ = true;
        AfterGreetingExchange();
      } else if (reply.code == 421) {
        Fail({SessionError::Kind::kServerClosing, reply, "server closed the session at EHLO"});
      } else if (reply.IsPermanent() && !options_.tls_active) {
        SendLine(absl::StrCat("HELO ", options_.ehlo_name));
        expected_.push_back({Expect::kHelo});
        phase_ = Phase::kHelo;
      } else {
        Fail({SessionError::Kind::kHelo, reply, "EHLO refused"});
      }
      return;
    case Expect::kHelo:
      if (reply.IsPositive()) {
        capabilities_ = Capabilities();
        AfterGreetingExchange();
      } else {
        Fail({reply.code == 421 ? SessionError::Kind::kServerClosing : SessionError::Kind::kHelo,
              reply, "HELO refused"});
      }
      return;
    default:  // kStartTls
      if (reply.code == 220) {
        phase_ = Phase::kTlsHandshake;
        callbacks_.on_starttls();
        return;
      }
      if (options_.tls_required || reply.code == 421) {
        Fail({reply.code == 421 ? SessionError::Kind::kServerClosing : SessionError::Kind::kTls,
              reply, "STARTTLS refused"});
        return;
      }
      // Opportunistic: carry on in plaintext, and don't ask again on this connection.
      options_.starttls = false;
      AfterGreetingExchange();
      return;
  }
}

void ClientSession::AfterGreetingExchange() {
  if (!options_.tls_active && options_.starttls && capabilities_.starttls) {
    SendLine("STARTTLS");
    expected_.push_back({Expect::kStartTls});
    phase_ = Phase::kStartTls;
    return;
  }
  if (!options_.tls_active && options_.tls_required) {
    Fail({SessionError::Kind::kTls, std::nullopt, "TLS is required and STARTTLS is not offered"});
    return;
  }
  if (!options_.auth_user.empty() && !authenticated_) {
    StartAuth();
    return;
  }
  phase_ = Phase::kIdle;
  if (callbacks_.on_ready) callbacks_.on_ready();
}

void ClientSession::OnTlsEstablished() {
  CHECK(phase_ == Phase::kTlsHandshake);
  ++depth_;
  options_.tls_active = true;
  // RFC 3207 4.2: forget everything learnt before TLS.
  capabilities_ = Capabilities();
  esmtp_ = false;
  lines_.Clear();
  parser_.Reset();
  SendLine(absl::StrCat("EHLO ", options_.ehlo_name));
  expected_.push_back({Expect::kEhlo});
  phase_ = Phase::kEhlo;
  --depth_;
  FlushOutput();
}

void ClientSession::StartAuth() {
  if (!options_.tls_active && !options_.allow_auth_without_tls) {
    Fail({SessionError::Kind::kAuth, std::nullopt,
          "refusing to send credentials over a connection without TLS"});
    return;
  }
  phase_ = Phase::kAuth;
  if (HasMechanism(capabilities_, "PLAIN")) {
    // RFC 4616: authzid NUL authcid NUL password.
    const std::string credentials =
        absl::StrCat(absl::string_view("\0", 1), options_.auth_user, absl::string_view("\0", 1),
                     options_.auth_password);
    SendLine(absl::StrCat("AUTH PLAIN ", absl::Base64Escape(credentials)));
    expected_.push_back({Expect::kAuth, kAuthPlain});
    return;
  }
  if (HasMechanism(capabilities_, "LOGIN")) {
    SendLine("AUTH LOGIN");
    expected_.push_back({Expect::kAuth, kAuthLoginStart});
    return;
  }
  Fail({SessionError::Kind::kAuth, std::nullopt,
        capabilities_.auth_mechanisms.empty()
            ? "the server offers no AUTH"
            : "the server offers neither AUTH PLAIN nor AUTH LOGIN"});
}

void ClientSession::HandleAuthReply(const Pending& pending, Reply reply) {
  const bool last_step = pending.index == kAuthPlain || pending.index == kAuthLoginPassword;
  if (last_step && reply.code == 235) {
    authenticated_ = true;
    phase_ = Phase::kIdle;
    if (callbacks_.on_ready) callbacks_.on_ready();
    return;
  }
  if (!last_step && reply.code == 334) {
    if (pending.index == kAuthLoginStart) {
      SendLine(absl::Base64Escape(options_.auth_user));
      expected_.push_back({Expect::kAuth, kAuthLoginUser});
    } else {
      SendLine(absl::Base64Escape(options_.auth_password));
      expected_.push_back({Expect::kAuth, kAuthLoginPassword});
    }
    return;
  }
  Fail({reply.code == 421 ? SessionError::Kind::kServerClosing : SessionError::Kind::kAuth, reply,
        "authentication failed"});
}

void ClientSession::HandleTransactionReply(const Pending& pending, Reply reply) {
  DCHECK(active_.has_value());
  Active& a = *active_;
  const bool lockstep = !capabilities_.pipelining;
  switch (pending.what) {
    case Expect::kMail:
      if (!reply.IsPositive()) {
        a.mail_failure = RecipientOutcome{std::move(reply), MailCommand(), false};
        needs_rset_ = true;
        if (lockstep) FinishTransaction(nullptr, "");
        return;
      }
      if (lockstep) {
        SendNextRcptOrData();
      } else {
        phase_ = Phase::kRcpt;  // for the timeout: the RCPT replies are next
      }
      return;
    case Expect::kRcpt: {
      ++a.rcpt_replies;
      if (!a.mail_failure) {
        if (reply.IsPositive()) {
          ++a.accepted;
        } else {
          a.outcomes[pending.index] =
              RecipientOutcome{std::move(reply), RcptCommand(pending.index), false};
        }
      }
      // With BDAT the data waits for the last RCPT reply; without pipelining every command
      // waits for the previous reply.
      if (lockstep || (a.chunking && a.rcpt_replies == a.transaction.recipients.size())) {
        SendNextRcptOrData();
      } else if (a.rcpt_replies == a.transaction.recipients.size()) {
        phase_ = Phase::kData;  // DATA went with the RCPTs; its reply is next
      }
      return;
    }
    case Expect::kData:
      if (reply.code == 354) {
        if (a.mail_failure || a.accepted == 0) {
          // RFC 2920 3.1: a server may answer 354 even with no valid recipient; end the empty
          // message at once.
          a.discard_data = true;
          Send(".\r\n");
        } else {
          SendBody();
        }
        expected_.push_back({Expect::kDot});
        phase_ = Phase::kDataDot;
        return;
      }
      needs_rset_ = true;
      if (a.mail_failure || a.accepted == 0) {
        FinishTransaction(nullptr, "");
      } else {
        FinishTransaction(&reply, "DATA");
      }
      return;
    case Expect::kDot:
      if (a.discard_data) {
        needs_rset_ = true;
        FinishTransaction(nullptr, "");
      } else {
        if (!reply.IsPositive() && a.chunking) needs_rset_ = true;
        FinishTransaction(&reply, a.chunking ? "BDAT" : ".");
      }
      return;
    default:
      return;
  }
}

void ClientSession::SendNextRcptOrData() {
  Active& a = *active_;
  if (a.mail_failure) {
    FinishTransaction(nullptr, "");
    return;
  }
  if (a.rcpt_replies < a.transaction.recipients.size()) {
    SendLine(RcptCommand(a.rcpt_replies));
    expected_.push_back({Expect::kRcpt, a.rcpt_replies});
    phase_ = Phase::kRcpt;
    return;
  }
  if (a.accepted == 0) {
    needs_rset_ = true;
    FinishTransaction(nullptr, "");
    return;
  }
  if (a.chunking) {
    SendBody();
    expected_.push_back({Expect::kDot});
    phase_ = Phase::kDataDot;
    return;
  }
  SendLine("DATA");
  expected_.push_back({Expect::kData});
  phase_ = Phase::kData;
}

void ClientSession::SendBody() {
  const std::string& content = *active_->content;
  if (active_->chunking) {
    // RFC 3030: the octets as they are, no dot-stuffing, in one chunk.
    SendLine(absl::StrCat("BDAT ", content.size(), " LAST"));
    Send(content);
    return;
  }
  std::string body;
  body.reserve(content.size() + content.size() / 64 + 8);
  DotStuff(content, &body);
  out_.append(body);
}

std::string ClientSession::MailCommand() const {
  const Active& a = *active_;
  const Transaction& t = a.transaction;
  std::string command = absl::StrCat("MAIL FROM:<", t.mail_from, ">");
  if (capabilities_.size) absl::StrAppend(&command, " SIZE=", a.content->size());
  if (t.eight_bit && capabilities_.eightbitmime && a.content == t.content) {
    command.append(" BODY=8BITMIME");
  }
  if (a.smtputf8) command.append(" SMTPUTF8");
  if (capabilities_.dsn) {
    if (!t.dsn_ret.empty()) absl::StrAppend(&command, " RET=", t.dsn_ret);
    if (!t.dsn_envid.empty()) absl::StrAppend(&command, " ENVID=", t.dsn_envid);
  }
  return command;
}

std::string ClientSession::RcptCommand(size_t index) const {
  const TransactionRecipient& r = active_->transaction.recipients[index];
  std::string command = absl::StrCat("RCPT TO:<", r.address, ">");
  if (capabilities_.dsn) {
    if (!r.dsn_notify.empty()) absl::StrAppend(&command, " NOTIFY=", r.dsn_notify);
    if (!r.dsn_orcpt.empty()) absl::StrAppend(&command, " ORCPT=", r.dsn_orcpt);
  }
  return command;
}

void ClientSession::StartTransaction(Transaction transaction) {
  CHECK(phase_ == Phase::kIdle) << "StartTransaction outside kIdle";
  CHECK(!transaction.recipients.empty());
  ++depth_;
  active_.emplace();
  Active& a = *active_;
  a.transaction = std::move(transaction);
  a.outcomes.resize(a.transaction.recipients.size());
  a.content = a.transaction.content;
  const Transaction& t = a.transaction;

  // RFC 6531: non-ASCII addresses, or a message that came in with SMTPUTF8, need SMTPUTF8 all
  // the way; there is no downgrade.
  bool needs_smtputf8 = t.smtputf8 || HasEightBit(t.mail_from);
  for (const TransactionRecipient& r : t.recipients) needs_smtputf8 |= HasEightBit(r.address);
  if (needs_smtputf8 && !capabilities_.smtputf8) {
    RefuseTransaction(MakeLocalReply(LocalReply::kNeedsSmtputf8), "MAIL");
    --depth_;
    FlushOutput();
    return;
  }
  a.smtputf8 = needs_smtputf8;

  // RFC 6152: without 8BITMIME an 8-bit message must be made 7-bit first (as Postfix does).
  if (t.eight_bit && !capabilities_.eightbitmime) {
    absl::StatusOr<std::string> converted = message::DowngradeTo7Bit(*t.content);
    if (!converted.ok()) {
      RefuseTransaction(MakeLocalReply(LocalReply::kCannotDowngrade, converted.status().message()),
                        "MAIL");
      --depth_;
      FlushOutput();
      return;
    }
    a.content = std::make_shared<const std::string>(*std::move(converted));
  }

  if (capabilities_.size && capabilities_.max_size > 0 &&
      a.content->size() > capabilities_.max_size) {
    // RFC 1870: no point sending what the server said it will refuse.
    RefuseTransaction(
        MakeLocalReply(LocalReply::kTooBigForServer, a.content->size(), capabilities_.max_size),
        "MAIL");
    --depth_;
    FlushOutput();
    return;
  }
  a.chunking = capabilities_.chunking;

  phase_ = Phase::kMail;
  const bool rset = needs_rset_;
  if (rset) {
    SendLine("RSET");
    expected_.push_back({Expect::kRset});
    needs_rset_ = false;
  }
  if (capabilities_.pipelining) {
    SendLine(MailCommand());
    expected_.push_back({Expect::kMail});
    for (size_t i = 0; i < t.recipients.size(); ++i) {
      SendLine(RcptCommand(i));
      expected_.push_back({Expect::kRcpt, i});
    }
    // DATA can go in the same flight; BDAT carries the message, so it waits for the RCPTs.
    if (!a.chunking) {
      SendLine("DATA");
      expected_.push_back({Expect::kData});
    }
  } else if (!rset) {
    SendLine(MailCommand());
    expected_.push_back({Expect::kMail});
  }
  --depth_;
  FlushOutput();
}

void ClientSession::RefuseTransaction(const Reply& reply, absl::string_view command) {
  for (auto& outcome : active_->outcomes) {
    outcome = RecipientOutcome{reply, std::string(command), true};
  }
  FinishTransaction(nullptr, "");
}

void ClientSession::FinishTransaction(const Reply* deciding, absl::string_view command) {
  Active& a = *active_;
  std::vector<RecipientOutcome> outcomes;
  outcomes.reserve(a.outcomes.size());
  for (auto& outcome : a.outcomes) {
    if (outcome) {
      // Refused only because this transaction had enough: the next one takes it.
      if (a.accepted > 0 && IsTooManyRecipients(outcome->reply)) outcome->deferred = true;
      outcomes.push_back(std::move(*outcome));
    } else if (a.mail_failure) {
      outcomes.push_back(*a.mail_failure);
    } else if (deciding != nullptr) {
      outcomes.push_back(RecipientOutcome{*deciding, std::string(command), false});
    } else {
      // Cannot happen: an accepted recipient always meets DATA, BDAT or the dot.
      outcomes.push_back(
          RecipientOutcome{MakeLocalReply(LocalReply::kNoReplyForRecipient), "", true});
    }
  }
  active_.reset();
  expected_.clear();
  phase_ = Phase::kIdle;
  ++transactions_;
  callbacks_.on_transaction_done(std::move(outcomes));
}

void ClientSession::Quit() {
  if (phase_ != Phase::kIdle) return;
  ++depth_;
  SendLine("QUIT");
  expected_.push_back({Expect::kQuit});
  phase_ = Phase::kQuit;
  --depth_;
  FlushOutput();
}

std::vector<RecipientOutcome> ClientSession::InFlightOutcomes(const Reply& fallback,
                                                              absl::string_view command,
                                                              bool synthetic) {
  std::vector<RecipientOutcome> outcomes;
  if (!active_) return outcomes;
  Active& a = *active_;
  for (auto& outcome : a.outcomes) {
    if (outcome) {
      outcomes.push_back(std::move(*outcome));
    } else if (a.mail_failure && a.mail_failure->reply.IsPermanent()) {
      outcomes.push_back(*a.mail_failure);
    } else {
      outcomes.push_back(RecipientOutcome{fallback, std::string(command), synthetic});
    }
  }
  active_.reset();
  return outcomes;
}

namespace {

absl::string_view PhaseCommand(ClientSession::Phase phase) {
  switch (phase) {
    case ClientSession::Phase::kMail:
      return "MAIL";
    case ClientSession::Phase::kRcpt:
      return "RCPT";
    case ClientSession::Phase::kData:
      return "DATA";
    case ClientSession::Phase::kDataDot:
      return ".";
    default:
      return "";
  }
}

}  // namespace

void ClientSession::Fail(SessionError error) {
  const absl::string_view command = PhaseCommand(phase_);
  std::vector<RecipientOutcome> outcomes;
  if (error.reply && error.reply->code == 421) {
    outcomes = InFlightOutcomes(*error.reply, command, false);
  } else {
    outcomes =
        InFlightOutcomes(MakeLocalReply(LocalReply::kSessionFailed, error.detail), command, true);
  }
  phase_ = Phase::kDone;
  expected_.clear();
  if (callbacks_.on_failed) callbacks_.on_failed(error, std::move(outcomes));
}

std::vector<RecipientOutcome> ClientSession::Abort(absl::string_view reason) {
  const absl::string_view command = PhaseCommand(phase_);
  std::vector<RecipientOutcome> outcomes =
      InFlightOutcomes(MakeLocalReply(LocalReply::kConnectionLost, reason), command, true);
  phase_ = Phase::kDone;
  expected_.clear();
  return outcomes;
}

}  // namespace volley::smtp
