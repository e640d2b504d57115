#include "engine/inject/injection_handler.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/base/bytes.h"
#include "engine/base/logging.h"
#include "engine/events/event.h"
#include "engine/message/trace.h"
#include "engine/smtp/command_parser.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/local_replies.h"

namespace volley::inject {

InjectionHandler::InjectionHandler(Shard* shard, const delivery::EngineContext& context,
                                   const delivery::Dispatcher* dispatcher,
                                   queue::MessageIdGenerator* ids)
    : shard_(shard), context_(context), dispatcher_(dispatcher), ids_(ids) {}

InjectionHandler::~InjectionHandler() { *alive_ = false; }

namespace {

// The client keeps the message and tries again later; nothing of it was kept here.
smtp::Reply SpoolFullReply() { return smtp::MakeLocalReply(smtp::LocalReply::kSpoolFull); }

}  // namespace

std::optional<smtp::Reply> InjectionHandler::RefuseIfSpoolFull() const {
  if (!context_.SpoolRefusesInjection()) return std::nullopt;
  return SpoolFullReply();
}

std::optional<smtp::Reply> InjectionHandler::CheckMailFrom(const smtp::Envelope&) {
  // Refusing at MAIL saves the client sending a body we would not keep.
  return RefuseIfSpoolFull();
}

std::optional<smtp::Reply> InjectionHandler::CheckRecipient(const smtp::Envelope& envelope,
                                                            absl::string_view recipient) {
  bool relay = false;
  for (const config::Cidr& network : context_.config->inject_smtp.relay_networks) {
    if (network.Contains(envelope.peer_address)) {
      relay = true;
      break;
    }
  }
  if (!relay) {
    return smtp::MakeLocalReply(smtp::LocalReply::kRelayDenied, envelope.peer_address);
  }
  if (smtp::DomainOf(recipient).empty()) {
    // We relay; there is no local mailbox to deliver a bare "postmaster" to.
    return smtp::MakeLocalReply(smtp::LocalReply::kRecipientNeedsDomain);
  }
  return std::nullopt;
}

void InjectionHandler::OnMessage(smtp::Envelope envelope, std::string content,
                                 absl::AnyInvocable<void(smtp::MessageResponse)> done) {
  // The disk may have filled while the body arrived: nothing is kept half-way.
  if (std::optional<smtp::Reply> refusal = RefuseIfSpoolFull()) {
    done(*std::move(refusal));
    return;
  }
  const absl::Time now = context_.clock->Now();
  if (envelope.bdat) {
    // BDAT carries octets as sent; keep the spool canonical (CRLF line endings), as DATA's
    // unstuffing already does.
    std::string canonical;
    smtp::NormalizeCrlf(content, &canonical);
    content.swap(canonical);
  }
  queue::MessageMeta meta;
  meta.id = ids_->Next();
  const std::string queue_id = queue::FormatQueueId(meta.id);

  message::TraceInfo trace;
  trace.helo = envelope.helo;
  trace.peer_ip = envelope.peer_address;
  trace.hostname = context_.config->server.hostname;
  trace.queue_id = queue_id;
  trace.esmtp = envelope.esmtp;
  if (envelope.recipients.size() == 1) trace.recipient = envelope.recipients[0];
  trace.time = now;
  message::PreparedMessage prepared = message::PrepareMessage(content, trace);
  content.clear();
  content.shrink_to_fit();

  meta.sender = envelope.mail_from;
  meta.created = now;
  meta.size = prepared.content.size();
  meta.num_recipients = static_cast<uint32_t>(envelope.recipients.size());
  meta.message_id = std::move(prepared.message_id);
  meta.eight_bit = HasEightBit(prepared.content);
  meta.smtputf8 = envelope.smtputf8_requested;
  for (const auto& [keyword, value] : envelope.mail_params) {
    if (keyword == "RET") meta.dsn_ret = value;
    if (keyword == "ENVID") meta.dsn_envid = value;
  }

  std::vector<queue::RecipientRecord> records;
  records.reserve(envelope.recipients.size());
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    queue::RecipientRecord record;
    record.index = static_cast<uint32_t>(i);
    record.address = envelope.recipients[i];
    if (i < envelope.recipient_params.size()) {
      for (const auto& [keyword, value] : envelope.recipient_params[i]) {
        if (keyword == "NOTIFY") record.dsn_notify = value;
        if (keyword == "ORCPT") record.dsn_orcpt = value;
      }
    }
    records.push_back(std::move(record));
  }
  auto body = std::make_shared<const std::string>(std::move(prepared.content));
  ++pending_;
  std::weak_ptr<bool> alive = alive_;
  Shard* shard = shard_;
  // The in-memory recipients are made from the very records that go to the spool.
  std::vector<queue::RecipientRecord> stored = records;
  // The completion runs on the spool writer's thread: hop back to this shard.
  context_.writer->Insert(
      meta, body, std::move(records),
      [this, alive, shard, meta, body, envelope = std::move(envelope), stored = std::move(stored),
       done = std::move(done)](absl::Status status) mutable {
        shard->Post([this, alive, meta = std::move(meta), body = std::move(body),
                     envelope = std::move(envelope), stored = std::move(stored),
                     status = std::move(status), done = std::move(done)]() mutable {
          if (alive.expired()) return;
          OnStored(envelope, meta, std::move(stored), std::move(body), std::move(status),
                   std::move(done));
        });
      });
}

void InjectionHandler::OnStored(const smtp::Envelope& envelope, const queue::MessageMeta& meta,
                                std::vector<queue::RecipientRecord> records,
                                std::shared_ptr<const std::string> body, absl::Status status,
                                absl::AnyInvocable<void(smtp::MessageResponse)> done) {
  --pending_;
  if (!status.ok()) {
    // Nothing was kept: the client keeps the message and retries later.
    LOG_EVERY_N_SEC(ERROR, 5) << "spool write failed; answering 452: " << status;
    done(SpoolFullReply());
    return;
  }
  const std::string queue_id = queue::FormatQueueId(meta.id);
  std::shared_ptr<const delivery::MessageInfo> shared_info = delivery::MakeMessageInfo(meta);

  smtp::Reply ok = smtp::MakeLocalReply(smtp::LocalReply::kQueued, queue_id);
  std::vector<delivery::RecipientPtr> recipients;
  recipients.reserve(records.size());
  events::EventSink& events = *context_.events;
  events.OnMessageReceived({"smtp", records.size()});
  for (queue::RecipientRecord& spooled : records) {
    delivery::RecipientPtr r = delivery::MakeRecipient(shared_info, body, std::move(spooled));
    events::RecipientEvent event;
    event.type = events::EventType::kReception;
    event.queue_id = shared_info->queue_id;
    event.sender = meta.sender;
    event.recipient = r->address;
    event.domain = r->domain;
    event.size = meta.size;
    event.reply = &ok;
    event.peer_address = envelope.peer_address;
    event.peer_name = envelope.helo;
    event.message_id = meta.message_id;
    event.timestamp = meta.created;
    event.created = meta.created;
    events.OnEvent(event);
    recipients.push_back(std::move(r));
  }
  // The Reception records are queued before any delivery can be logged for these recipients.
  dispatcher_->Dispatch(std::move(recipients));
  done(std::move(ok));
}

}  // namespace volley::inject
