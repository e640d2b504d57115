#include "engine/delivery/outcome_recorder.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/smtp/local_replies.h"

namespace volley::delivery {

void OutcomeRecorder::Emit(events::EventType type, const QueuedRecipient& r,
                           const smtp::Reply& reply, bool remote_reply,
                           const std::optional<std::string>& command, const AttemptInfo& attempt,
                           std::optional<bounce::BounceClass> classification, bool expired) {
  const MessageInfo& message = *r.message;
  events::RecipientEvent event;
  event.type = type;
  event.queue_id = message.queue_id;
  event.sender = message.sender;
  event.recipient = r.address;
  event.domain = r.domain;
  event.site = attempt.site;
  event.size = message.size;
  event.num_attempts = r.attempts;
  event.reply = &reply;
  event.remote_reply = remote_reply;
  if (command) event.command = *command;
  if (attempt.peer_name) event.peer_name = *attempt.peer_name;
  if (attempt.peer_address) event.peer_address = *attempt.peer_address;
  event.egress_pool = attempt.egress_pool;
  event.egress_source = attempt.egress_source;
  event.tls_version = attempt.tls_version;
  event.tls_cipher = attempt.tls_cipher;
  event.classification = classification;
  event.expired = expired;
  event.message_id = message.message_id;
  event.tenant = message.tenant;
  event.campaign = message.campaign;
  event.priority = message.priority;
  event.metadata = message.metadata;
  event.timestamp = options_.clock->Now();
  event.created = message.created;
  options_.events->OnEvent(event);
}

void OutcomeRecorder::Done(const QueuedRecipient& r) {
  options_.writer->RecipientDone(r.message->id, r.index, r.due);
}

bounce::DsnRecipient OutcomeRecorder::NoticeRecipient(const QueuedRecipient& r,
                                                      bounce::DsnAction action,
                                                      const smtp::Reply& reply, bool remote,
                                                      const AttemptInfo& attempt) const {
  bounce::DsnRecipient notice;
  notice.address = r.address;
  notice.orcpt = r.dsn_orcpt;
  notice.action = action;
  std::optional<std::string> enhanced;
  if (reply.enhanced.has_value()) enhanced = reply.enhanced->ToString();
  notice.status = DsnStatusOf(reply.code, enhanced);
  if (remote && attempt.peer_name.has_value()) notice.remote_mta = *attempt.peer_name;
  if (remote) notice.diagnostic = reply.Summary();
  notice.explanation = reply.Summary();
  notice.last_attempt = options_.clock->Now();
  return notice;
}

void OutcomeRecorder::Finish(const QueuedRecipient& r, bounce::DsnAction action,
                             absl::FunctionRef<bounce::DsnRecipient()> notice) {
  if (!options_.notify || !NoticeWanted(options_.notices, r, action)) {
    Done(r);
    return;
  }
  SendNotice(r, notice(), /*completes=*/true);
}

void OutcomeRecorder::SendNotice(const QueuedRecipient& r, bounce::DsnRecipient notice,
                                 bool completes) {
  NoticeItem item;
  item.message = r.message;
  item.body = r.body;
  item.recipient = std::move(notice);
  if (completes) item.completes = queue::RecipientRef{r.message->id, r.index, r.due};
  options_.notify(std::move(item));
}

void OutcomeRecorder::Record(RecipientPtr recipient, const smtp::RecipientOutcome& outcome,
                             const AttemptInfo& attempt) {
  DCHECK(thread_.InLoopThread());
  const smtp::Reply& reply = outcome.reply;
  const bool remote = !outcome.synthetic;
  std::optional<std::string> command;
  if (!outcome.command.empty()) command = outcome.command;
  if (reply.code / 100 == 2) {
    ++recipient->attempts;
    Emit(events::EventType::kDelivery, *recipient, reply, remote, command, attempt, std::nullopt);
    if (attempt.peer_offers_dsn) {
      Done(*recipient);  // NOTIFY went on with the recipient: the next hop reports
    } else {
      Finish(*recipient, bounce::DsnAction::kRelayed, [&] {
        return NoticeRecipient(*recipient, bounce::DsnAction::kRelayed, reply, remote, attempt);
      });
    }
    return;
  }
  const bounce::BounceClass classification = Classify(reply);
  if (reply.IsPermanent()) {
    ++recipient->attempts;
    Emit(events::EventType::kBounce, *recipient, reply, remote, command, attempt, classification);
    MaybeSuppress(*recipient, reply, classification);
    Finish(*recipient, bounce::DsnAction::kFailed, [&] {
      return NoticeRecipient(*recipient, bounce::DsnAction::kFailed, reply, remote, attempt);
    });
    return;
  }
  Defer(std::move(recipient), reply, std::move(command), attempt, classification, remote);
}

void OutcomeRecorder::Bounce(RecipientPtr recipient, const smtp::Reply& reply,
                             bounce::BounceClass classification, const AttemptInfo& attempt) {
  DCHECK(thread_.InLoopThread());
  ++recipient->attempts;
  Emit(events::EventType::kBounce, *recipient, reply, /*remote_reply=*/false, std::nullopt, attempt,
       classification);
  MaybeSuppress(*recipient, reply, classification);
  Finish(*recipient, bounce::DsnAction::kFailed, [&] {
    return NoticeRecipient(*recipient, bounce::DsnAction::kFailed, reply, /*remote=*/false,
                           attempt);
  });
}

void OutcomeRecorder::MaybeSuppress(const QueuedRecipient& recipient, const smtp::Reply& reply,
                                    bounce::BounceClass classification) {
  if (!options_.suppress) return;
  std::optional<bounce::SuppressionEntry> entry = bounce::HardBounceSuppression(
      options_.suppress_classes, classification, recipient.address, reply.Summary(), "bounce",
      options_.clock->Now(), options_.suppress_for);
  if (entry.has_value()) options_.suppress(*std::move(entry));
}

void OutcomeRecorder::Defer(RecipientPtr recipient, const smtp::Reply& reply,
                            std::optional<std::string> command, const AttemptInfo& attempt,
                            bounce::BounceClass classification, bool remote_reply) {
  DCHECK(thread_.InLoopThread());
  const absl::Time now = options_.clock->Now();
  ++recipient->attempts;
  const std::optional<absl::Time> next =
      options_.retry->NextAttempt(recipient->attempts, recipient->message->created, now);
  if (!next.has_value()) {
    Expire(std::move(recipient), reply, command, attempt, remote_reply);
    return;
  }
  Emit(events::EventType::kTransientFailure, *recipient, reply, remote_reply, command, attempt,
       classification);
  MaybeNotifyDelay(*recipient, reply, remote_reply, attempt, now);
  const absl::Time old_due = recipient->due;
  recipient->due = *next;
  recipient->last_response = absl::StrCat(reply.code, " ", reply.Text());
  queue::RecipientRecord record;
  record.index = recipient->index;
  record.address = recipient->address;
  record.attempts = recipient->attempts;
  record.next_due = recipient->due;
  record.last_response = recipient->last_response;
  record.dsn_notify = recipient->dsn_notify;
  record.dsn_orcpt = recipient->dsn_orcpt;
  record.delay_notified = recipient->delay_notified;
  // A retry due soon stays in memory; a later one lives only in the spool until the writer's
  // loader reads it back, so memory does not grow with the number of waiting recipients.
  const bool keep = *next - now <= options_.memory_horizon;
  options_.writer->Reschedule(recipient->message->id, std::move(record), old_due, keep);
  if (keep) options_.keep(std::move(recipient));
}

void OutcomeRecorder::MaybeNotifyDelay(QueuedRecipient& recipient, const smtp::Reply& reply,
                                       bool remote, const AttemptInfo& attempt, absl::Time now) {
  if (recipient.delay_notified || !options_.notify ||
      now - recipient.message->created < options_.notices.delay_after ||
      !NoticeWanted(options_.notices, recipient, bounce::DsnAction::kDelayed)) {
    return;
  }
  recipient.delay_notified = true;  // written with the retry: one delay notice per recipient
  // The recipient stays queued: the notice removes nothing.
  SendNotice(recipient,
             NoticeRecipient(recipient, bounce::DsnAction::kDelayed, reply, remote, attempt),
             /*completes=*/false);
}

bool OutcomeRecorder::ExpireIfDue(RecipientPtr& recipient) {
  DCHECK(thread_.InLoopThread());
  if (!options_.retry->Expired(recipient->message->created, options_.clock->Now())) return false;
  const smtp::Reply reply =
      recipient->last_response.empty()
          ? smtp::MakeLocalReply(smtp::LocalReply::kExpired)
          : smtp::MakeLocalReply(smtp::LocalReply::kExpiredAfterError, recipient->last_response);
  Expire(std::move(recipient), reply, std::nullopt, AttemptInfo{}, /*remote_reply=*/false);
  return true;
}

void OutcomeRecorder::Expire(RecipientPtr recipient, const smtp::Reply& reply,
                             std::optional<std::string> command, const AttemptInfo& attempt,
                             bool remote_reply) {
  Emit(events::EventType::kExpiration, *recipient, reply, remote_reply, command, attempt,
       bounce::BounceClass::kMessageExpired);
  const smtp::Reply expired =
      smtp::MakeLocalReply(smtp::LocalReply::kExpiredBounce, recipient->attempts,
                           absl::StrCat(reply.code, " ", reply.Text()));
  Emit(events::EventType::kBounce, *recipient, expired, /*remote_reply=*/false, command, attempt,
       bounce::BounceClass::kMessageExpired, /*expired=*/true);
  Finish(*recipient, bounce::DsnAction::kFailed, [&] {
    bounce::DsnRecipient notice =
        NoticeRecipient(*recipient, bounce::DsnAction::kFailed, reply, remote_reply, attempt);
    notice.status = "4.4.7";  // RFC 3463: delivery time expired
    // The last error a server gave, from this attempt or an earlier one ("421 text").
    if (!remote_reply && !recipient->last_response.empty()) {
      notice.diagnostic = recipient->last_response;
    }
    notice.explanation = expired.Summary();
    return notice;
  });
}

}  // namespace volley::delivery
