#include "engine/smtp/mail_transaction.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "engine/smtp/address_check.h"
#include "engine/smtp/local_replies.h"

namespace volley::smtp {
namespace {

using Step = MailTransaction::Step;
using Kind = MailTransaction::Step::Kind;

Step Answer(Reply reply) { return Step{Kind::kReply, std::move(reply)}; }
Step Answer(LocalReply id) { return Answer(MakeLocalReply(id)); }
Step Bad(Reply reply) { return Step{Kind::kBadCommand, std::move(reply)}; }
Step Bad(LocalReply id) { return Bad(MakeLocalReply(id)); }
Step Only(Kind kind) { return Step{kind, Reply{}}; }
Step Refusal(LocalReply id, absl::string_view why) {
  return Step{Kind::kReply, MakeLocalReply(id), why};
}

// What a MAIL must find free in the memory budget: what it announced, or enough for a typical
// message, so that a busy budget turns clients away before they send a body.
constexpr uint64_t kMinimumFreeAtMail = 64 * 1024;

}  // namespace

MailTransaction::MailTransaction(const Limits& limits, Envelope* envelope)
    : limits_(limits), envelope_(envelope), content_(limits.max_message_size, limits.memory) {}

Step MailTransaction::Mail(Command command, bool needs_auth, CheckSender check_sender) {
  if (mail_given_) return Bad(LocalReply::kNestedMail);
  if (needs_auth) {
    mail_refused_ = true;
    return Refusal(LocalReply::kAuthRequired, "auth_required");
  }
  if (std::optional<Reply> refusal = CheckParameterList(command.params, envelope_->esmtp)) {
    return Bad(*std::move(refusal));
  }
  // A MAIL whose parameter list passes these rules replaces what an earlier refused MAIL left
  // (mail_refused_), even when one of its parameters is refused below.
  Reset();
  std::variant<MailParamEffects, Reply> checked = CheckMailParams(command.params, limits_.offered);
  if (Reply* refusal = std::get_if<Reply>(&checked)) return Bad(std::move(*refusal));
  const MailParamEffects& effects = std::get<MailParamEffects>(checked);
  if (effects.size_hint > limits_.max_message_size) {
    mail_refused_ = true;
    return Answer(LocalReply::kMessageTooBig);
  }
  if (limits_.memory != nullptr &&
      !limits_.memory->Fits(std::max(effects.size_hint, kMinimumFreeAtMail))) {
    mail_refused_ = true;
    return Refusal(LocalReply::kMemoryFull, "memory");
  }
  if (limits_.strict_addresses) {
    if (std::optional<Reply> refusal = CheckEnvelopeAddress(command.address, effects.smtputf8)) {
      mail_refused_ = true;
      return Step{Kind::kReply, *std::move(refusal), "bad_address"};
    }
  }
  size_hint_ = effects.size_hint;
  envelope_->smtputf8_requested = effects.smtputf8;
  envelope_->mail_from = std::move(command.address);
  envelope_->mail_params = std::move(command.params);
  if (std::optional<Reply> rejection = check_sender(*envelope_)) {
    Reset();
    mail_refused_ = true;
    return Answer(*std::move(rejection));
  }
  mail_given_ = true;
  return Step{Kind::kMailAccepted, MakeLocalReply(LocalReply::kSenderOk)};
}

Step MailTransaction::Rcpt(Command command, CheckRecipient check_recipient) {
  if (!mail_given_) return NeedMail(MakeLocalReply(LocalReply::kNeedMail));
  std::optional<Reply> refusal = CheckParameterList(command.params, envelope_->esmtp);
  if (!refusal.has_value()) refusal = CheckRcptParams(command.params, limits_.offered);
  if (refusal.has_value()) return Bad(*std::move(refusal));
  ++rcpt_attempts_;
  if (static_cast<int>(envelope_->recipients.size()) >= limits_.max_recipients) {
    return Answer(LocalReply::kTooManyRecipients);
  }
  if (limits_.strict_addresses) {
    if (std::optional<Reply> refusal =
            CheckEnvelopeAddress(command.address, envelope_->smtputf8_requested)) {
      return Step{Kind::kReply, *std::move(refusal), "bad_address"};
    }
  }
  if (std::optional<Reply> rejection = check_recipient(*envelope_, command.address)) {
    return Answer(*std::move(rejection));
  }
  envelope_->recipients.push_back(std::move(command.address));
  envelope_->recipient_params.push_back(std::move(command.params));
  return Answer(LocalReply::kRecipientOk);
}

Step MailTransaction::Data() {
  if (!mail_given_) return NeedMail(MakeLocalReply(LocalReply::kNeedMail));
  // RFC 3030 2: a transaction uses BDAT or DATA, not both.
  if (envelope_->bdat) return Bad(LocalReply::kDataAfterBdat);
  if (envelope_->recipients.empty()) {
    // With pipelining the client sent DATA before it saw its RCPTs refused; this tells it not
    // to send the body (RFC 2920 section 3.1).
    if (rcpt_attempts_ > 0) return Answer(LocalReply::kNoValidRecipients);
    return Bad(LocalReply::kNeedRcpt);
  }
  if (!content_.StartMessage(size_hint_)) return OutOfMemory();
  content_.StartData();
  return Step{Kind::kGoAhead, MakeLocalReply(LocalReply::kDataGoAhead)};
}

Step MailTransaction::Bdat(absl::string_view argument) {
  std::optional<BdatArgument> bdat = ParseBdatArgument(argument);
  // Without a size the chunk cannot be skipped: what follows is read as commands.
  if (!bdat.has_value()) return Bad(LocalReply::kBdatSyntax);
  chunk_refusal_.reset();
  if (!mail_given_) {
    chunk_refusal_ = MakeLocalReply(LocalReply::kNeedMail);
  } else if (envelope_->recipients.empty()) {
    chunk_refusal_ = MakeLocalReply(LocalReply::kNeedRcpt);
  } else if (!content_.ChunkFits(bdat->size)) {
    chunk_refusal_ = MakeLocalReply(LocalReply::kMessageTooBig);
  } else if (!envelope_->bdat) {
    envelope_->bdat = true;
    if (!content_.StartMessage(std::max(size_hint_, bdat->size))) {
      chunk_refusal_ = MakeLocalReply(LocalReply::kMemoryFull);
    }
  }
  content_.StartChunk(bdat->size, bdat->last, /*discard=*/chunk_refusal_.has_value());
  if (content_.finished()) return FinishContent();
  return Only(Kind::kReadChunk);
}

Step MailTransaction::Feed(absl::string_view* input, ContinueData continue_data) {
  const size_t counted = content_.Feed(input);
  if (counted > 0 && !continue_data(*envelope_, content_.wire_bytes())) {
    return Only(Kind::kAbort);
  }
  if (!content_.finished()) return Only(Kind::kMore);
  return FinishContent();
}

std::string MailTransaction::TakeMessage(MemoryCharge* charge) {
  std::string content = content_.TakeContent(charge);
  Reset();
  return content;
}

void MailTransaction::Reset() {
  // What an unfinished BDAT transaction received goes with it: it must not count against the
  // next message (RFC 3030 2: RSET discards the chunks).
  content_.Clear();
  mail_given_ = false;
  mail_refused_ = false;
  rcpt_attempts_ = 0;
  size_hint_ = 0;
  envelope_->mail_from.clear();
  envelope_->mail_params.clear();
  envelope_->smtputf8_requested = false;
  envelope_->recipients.clear();
  envelope_->recipient_params.clear();
  envelope_->bdat = false;
}

void MailTransaction::Abandon() { Reset(); }

// The DATA body or a BDAT chunk has been read.
Step MailTransaction::FinishContent() {
  switch (content_.end()) {
    case ContentReader::End::kMessage:
      return Only(Kind::kMessage);
    case ContentReader::End::kChunk:
      return Answer(MakeLocalReply(LocalReply::kChunkOk, content_.chunk_size()));
    case ContentReader::End::kTooBig:
      Abandon();
      return Answer(LocalReply::kMessageTooBig);
    case ContentReader::End::kDiscarded:
      return RefuseChunk();
    case ContentReader::End::kRefused:
      return OutOfMemory();
  }
  return Only(Kind::kMore);  // not reached: every End is handled above
}

// A chunk whose BDAT command was refused has been read and thrown away: the refusal is due.
Step MailTransaction::RefuseChunk() {
  Reply refusal = std::move(*chunk_refusal_);
  chunk_refusal_.reset();
  if (refusal.code == 552 || refusal.code == 452) {
    // The message cannot be taken whole: the transaction is over (RFC 3030 2).
    Abandon();
    mail_refused_ = true;
    const absl::string_view why = refusal.code == 452 ? "memory" : "";
    return Step{Kind::kReply, std::move(refusal), why};
  }
  if (!mail_given_) return NeedMail(std::move(refusal));
  return Bad(std::move(refusal));
}

// The memory budget cannot hold the content: the transaction is over, and what a pipelining
// client sends for it next is the consequence, not its error.
Step MailTransaction::OutOfMemory() {
  Abandon();
  mail_refused_ = true;
  return Refusal(LocalReply::kMemoryFull, "memory");
}

// RCPT, DATA or BDAT without a transaction. After a MAIL we refused (452 while the spool is
// full, a size or sender refusal), a pipelining client has these on their way already
// (RFC 2920): they are the consequence of our refusal, not the client's error, and must not
// count towards hanging up on it.
Step MailTransaction::NeedMail(Reply reply) const {
  if (mail_refused_) return Answer(std::move(reply));
  return Bad(std::move(reply));
}

}  // namespace volley::smtp
