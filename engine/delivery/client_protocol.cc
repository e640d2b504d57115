#include "engine/delivery/client_protocol.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/smtp/dot_stuffing.h"

namespace volley::delivery {
namespace {

// Reply lines are at most 512 octets by RFC 5321; real servers send longer ones, so allow more
// before calling it a protocol error.
constexpr size_t kMaxReplyLine = 8192;

smtp::Reply Synthetic(int code, absl::string_view enhanced, absl::string_view text) {
  return smtp::MakeReply(code, enhanced, text);
}

}  // namespace

ClientProtocol::ClientProtocol(std::string ehlo_name, Callbacks callbacks)
    : ehlo_name_(std::move(ehlo_name)), callbacks_(std::move(callbacks)), lines_(kMaxReplyLine) {
  expected_.push_back({Expect::kBanner});
}

void ClientProtocol::FlushOutput() {
  if (depth_ > 0 || out_.empty()) return;
  std::string bytes;
  bytes.swap(out_);
  callbacks_.write(std::move(bytes));
}

void ClientProtocol::OnData(absl::string_view bytes) {
  ++depth_;
  absl::string_view input = bytes;
  while (!input.empty() && phase_ != Phase::kDone) {
    absl::string_view line;
    const smtp::LineReader::Status status = lines_.Next(&input, &line);
    if (status == smtp::LineReader::Status::kNeedMore) break;
    if (status == smtp::LineReader::Status::kTooLong) {
      Fail({SessionError::Kind::kProtocol, std::nullopt,
            absl::StrCat("reply line longer than ", kMaxReplyLine, " octets")});
      break;
    }
    const smtp::ReplyParser::Result result = parser_.FeedLine(line);
    if (result == smtp::ReplyParser::Result::kError) {
      Fail({SessionError::Kind::kProtocol, std::nullopt,
            absl::StrCat("malformed reply: ", parser_.error().message())});
      break;
    }
    if (result == smtp::ReplyParser::Result::kComplete) HandleReply(parser_.Take());
  }
  --depth_;
  FlushOutput();
}

void ClientProtocol::HandleReply(smtp::Reply reply) {
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
      if (reply.code != 220) {
        Fail({SessionError::Kind::kGreeting, reply, "greeting refused"});
        return;
      }
      Send(absl::StrCat("EHLO ", ehlo_name_, "\r\n"));
      expected_.push_back({Expect::kEhlo});
      phase_ = Phase::kEhlo;
      return;
    case Expect::kEhlo:
      if (reply.IsPositive()) {
        capabilities_ = smtp::ParseEhloReply(reply);
        esmtp_ = true;
        phase_ = Phase::kIdle;
        if (callbacks_.on_ready) callbacks_.on_ready();
      } else if (reply.code == 421) {
        Fail({SessionError::Kind::kServerClosing, reply, "server closed the session at EHLO"});
      } else if (reply.IsPermanent()) {
        Send(absl::StrCat("HELO ", ehlo_name_, "\r\n"));
        expected_.push_back({Expect::kHelo});
        phase_ = Phase::kHelo;
      } else {
        Fail({SessionError::Kind::kHelo, reply, "EHLO refused"});
      }
      return;
    case Expect::kHelo:
      if (reply.IsPositive()) {
        phase_ = Phase::kIdle;
        if (callbacks_.on_ready) callbacks_.on_ready();
      } else {
        Fail({reply.code == 421 ? SessionError::Kind::kServerClosing : SessionError::Kind::kHelo,
              reply, "HELO refused"});
      }
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

void ClientProtocol::HandleTransactionReply(const Pending& pending, smtp::Reply reply) {
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
      if (lockstep) SendNextRcptOrData();
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
      if (lockstep) SendNextRcptOrData();
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
          std::string body;
          body.reserve(a.transaction.content->size() + a.transaction.content->size() / 64 + 8);
          smtp::DotStuff(*a.transaction.content, &body);
          out_.append(body);
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
        FinishTransaction(&reply, ".");
      }
      return;
    default:
      return;
  }
}

void ClientProtocol::SendNextRcptOrData() {
  Active& a = *active_;
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
  Send("DATA\r\n");
  expected_.push_back({Expect::kData});
  phase_ = Phase::kData;
}

std::string ClientProtocol::MailCommand() const {
  const Transaction& t = active_->transaction;
  std::string command = absl::StrCat("MAIL FROM:<", t.mail_from, ">");
  if (capabilities_.size) absl::StrAppend(&command, " SIZE=", t.content->size());
  if (t.eight_bit && capabilities_.eightbitmime) command.append(" BODY=8BITMIME");
  return command;
}

std::string ClientProtocol::RcptCommand(size_t index) const {
  return absl::StrCat("RCPT TO:<", active_->transaction.recipients[index], ">");
}

void ClientProtocol::StartTransaction(Transaction transaction) {
  CHECK(phase_ == Phase::kIdle) << "StartTransaction outside kIdle";
  CHECK(!transaction.recipients.empty());
  ++depth_;
  active_.emplace();
  active_->transaction = std::move(transaction);
  active_->outcomes.resize(active_->transaction.recipients.size());
  const Transaction& t = active_->transaction;

  if (capabilities_.size && capabilities_.max_size > 0 &&
      t.content->size() > capabilities_.max_size) {
    // RFC 1870: no point sending what the server said it will refuse.
    smtp::Reply refused =
        Synthetic(552, "5.3.4",
                  absl::StrCat("message size ", t.content->size(),
                               " exceeds the server's limit of ", capabilities_.max_size));
    for (auto& outcome : active_->outcomes) outcome = RecipientOutcome{refused, "MAIL", true};
    FinishTransaction(nullptr, "");
    --depth_;
    FlushOutput();
    return;
  }

  phase_ = Phase::kMail;
  const bool rset = needs_rset_;
  if (rset) {
    Send("RSET\r\n");
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
    Send("DATA\r\n");
    expected_.push_back({Expect::kData});
  } else if (!rset) {
    SendLine(MailCommand());
    expected_.push_back({Expect::kMail});
  }
  --depth_;
  FlushOutput();
}

void ClientProtocol::FinishTransaction(const smtp::Reply* deciding, absl::string_view command) {
  Active& a = *active_;
  std::vector<RecipientOutcome> outcomes;
  outcomes.reserve(a.outcomes.size());
  for (auto& outcome : a.outcomes) {
    if (outcome) {
      outcomes.push_back(std::move(*outcome));
    } else if (a.mail_failure) {
      outcomes.push_back(*a.mail_failure);
    } else if (deciding != nullptr) {
      outcomes.push_back(RecipientOutcome{*deciding, std::string(command), false});
    } else {
      // Cannot happen: an accepted recipient always meets DATA or the dot.
      outcomes.push_back(RecipientOutcome{
          Synthetic(451, "4.3.0", "transaction ended without a reply for this recipient"), "",
          true});
    }
  }
  active_.reset();
  expected_.clear();
  phase_ = Phase::kIdle;
  ++transactions_;
  callbacks_.on_transaction_done(std::move(outcomes));
}

void ClientProtocol::Quit() {
  if (phase_ != Phase::kIdle) return;
  ++depth_;
  Send("QUIT\r\n");
  expected_.push_back({Expect::kQuit});
  phase_ = Phase::kQuit;
  --depth_;
  FlushOutput();
}

std::vector<RecipientOutcome> ClientProtocol::InFlightOutcomes(const smtp::Reply& fallback,
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

absl::string_view PhaseCommand(ClientProtocol::Phase phase) {
  switch (phase) {
    case ClientProtocol::Phase::kMail:
      return "MAIL";
    case ClientProtocol::Phase::kRcpt:
      return "RCPT";
    case ClientProtocol::Phase::kData:
      return "DATA";
    case ClientProtocol::Phase::kDataDot:
      return ".";
    default:
      return "";
  }
}

}  // namespace

void ClientProtocol::Fail(SessionError error) {
  const absl::string_view command = PhaseCommand(phase_);
  std::vector<RecipientOutcome> outcomes;
  if (error.reply && error.reply->code == 421) {
    outcomes = InFlightOutcomes(*error.reply, command, false);
  } else {
    outcomes = InFlightOutcomes(
        Synthetic(451, "4.5.0", absl::StrCat("session failed: ", error.detail)), command, true);
  }
  phase_ = Phase::kDone;
  expected_.clear();
  if (callbacks_.on_failed) callbacks_.on_failed(error, std::move(outcomes));
}

std::vector<RecipientOutcome> ClientProtocol::Abort(absl::string_view reason) {
  const absl::string_view command = PhaseCommand(phase_);
  std::vector<RecipientOutcome> outcomes =
      InFlightOutcomes(Synthetic(451, "4.4.2", reason), command, true);
  phase_ = Phase::kDone;
  expected_.clear();
  return outcomes;
}

}  // namespace volley::delivery
