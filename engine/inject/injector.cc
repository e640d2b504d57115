#include "engine/inject/injector.h"

#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/base/bytes.h"
#include "engine/base/logging.h"
#include "engine/events/event.h"
#include "engine/message/trace.h"
#include "engine/smtp/command_parser.h"
#include "engine/smtp/local_replies.h"

namespace volley::inject {

static_assert(queue::kDefaultPriority == message::kPriorityNormal,
              "a spooled message without a priority has the normal one");

// What the completion of a spool insert needs to finish the injection.
struct Injector::Stored {
  queue::MessageMeta meta;
  std::shared_ptr<const std::string> body;
  std::vector<queue::RecipientRecord> records;
  std::string listener;
  std::string peer_address;
  std::string helo;
  std::string auth_user;
  std::string tls_version;
  std::string tls_cipher;
  Done done;
  std::vector<queue::RecipientRef> completes;
  bool check_suppression = true;
};

Injector::Injector(Shard* shard, const delivery::EngineContext& context,
                   const delivery::DeliveryRouter* router, queue::MessageIdGenerator* ids)
    : shard_(shard), context_(context), router_(router), ids_(ids) {}

Injector::~Injector() { DCHECK(thread_.InLoopThread()); }

absl::Status Injector::CheckSender() const {
  DCHECK(thread_.InLoopThread());
  if (context_.SpoolRefusesInjection()) {
    return absl::ResourceExhaustedError("the spool refuses injection");
  }
  return absl::OkStatus();
}

absl::Status Injector::CheckRecipient(bool may_relay, absl::string_view peer_address,
                                      absl::string_view recipient) const {
  DCHECK(thread_.InLoopThread());
  if (!may_relay) return absl::PermissionDeniedError(peer_address);
  if (smtp::DomainOf(recipient).empty()) {
    return absl::InvalidArgumentError("recipient address must include a domain");
  }
  return absl::OkStatus();
}

void Injector::Inject(InjectRequest request, Done done) {
  DCHECK(thread_.InLoopThread());
  // The disk may have filled while the body arrived: nothing is kept half-way.
  if (absl::Status refused = CheckSender(); !refused.ok()) {
    done(std::move(refused));
    return;
  }
  const absl::Time now = context_.clock->Now();
  queue::MessageMeta meta;
  meta.id = ids_->Next();
  const std::string queue_id = queue::FormatQueueId(meta.id);
  message::TraceInfo trace;
  trace.helo = request.helo;
  trace.peer_ip = request.peer_address;
  trace.hostname = context_.config->server.hostname;
  trace.queue_id = queue_id;
  trace.esmtp = request.esmtp;
  trace.protocol = request.protocol;
  trace.auth_user = request.auth_user;
  trace.tls_version = request.tls_version;
  trace.tls_cipher = request.tls_cipher;
  if (request.recipients.size() == 1) trace.recipient = request.recipients[0].address;
  trace.time = now;
  // One-click unsubscribe links name one recipient; Volley's own notices never get one.
  if (const bounce::ListUnsubscribe* unsubscribe = context_.unsubscribe;
      unsubscribe != nullptr && request.check_suppression && request.recipients.size() == 1) {
    std::string fields =
        unsubscribe->HeadersFor(request.tags, request.recipients[0].address,
                                request.recipients.size(), request.content, context_.clock->Now());
    if (!fields.empty()) request.content.insert(0, fields);
  }
  message::PreparedMessage prepared = message::PrepareMessage(request.content, trace);
  request.content = std::string();  // the prepared copy is the one kept
  meta.sender = std::move(request.sender);
  meta.created = now;
  meta.size = prepared.content.size();
  meta.num_recipients = static_cast<uint32_t>(request.recipients.size());
  meta.message_id = std::move(prepared.message_id);
  meta.eight_bit = HasEightBit(prepared.content);
  meta.smtputf8 = request.smtputf8;
  meta.dsn_ret = std::move(request.dsn_ret);
  meta.dsn_envid = std::move(request.dsn_envid);
  meta.tenant = std::move(request.tags.tenant);
  meta.campaign = std::move(request.tags.campaign);
  meta.priority = request.tags.priority;
  meta.metadata = std::move(request.metadata);
  std::vector<queue::RecipientRecord> records;
  records.reserve(request.recipients.size());
  for (size_t i = 0; i < request.recipients.size(); ++i) {
    queue::RecipientRecord record;
    record.index = static_cast<uint32_t>(i);
    record.address = std::move(request.recipients[i].address);
    record.dsn_notify = std::move(request.recipients[i].dsn_notify);
    record.dsn_orcpt = std::move(request.recipients[i].dsn_orcpt);
    records.push_back(std::move(record));
  }
  Stored stored{std::move(meta),
                std::make_shared<const std::string>(std::move(prepared.content)),
                std::move(records),
                std::move(request.listener),
                std::move(request.peer_address),
                std::move(request.helo),
                std::move(request.auth_user),
                std::move(request.tls_version),
                std::move(request.tls_cipher),
                std::move(done),
                std::move(request.completes),
                request.check_suppression};
  ++pending_;
  Store(std::move(stored));
}

void Injector::LeaveOutSuppressed(Stored& stored, const Lookups& found) {
  std::vector<queue::RecipientRecord> kept;
  for (size_t i = 0; i < stored.records.size(); ++i) {
    queue::RecipientRecord& record = stored.records[i];
    if (!found[i].has_value()) {
      record.index = static_cast<uint32_t>(kept.size());  // as the spool writer renumbered
      kept.push_back(std::move(record));
      continue;
    }
    const smtp::Reply reply = smtp::MakeLocalReply(smtp::LocalReply::kSuppressedRecipient,
                                                   record.address, found[i]->reason);
    EmitFor(stored, events::EventType::kSuppressed, record.address,
            absl::AsciiStrToLower(smtp::DomainOf(record.address)), reply);
  }
  stored.records = std::move(kept);
  stored.meta.num_recipients = static_cast<uint32_t>(stored.records.size());
}

void Injector::Store(Stored stored) {
  queue::MessageMeta meta = stored.meta;
  std::vector<queue::RecipientRecord> records = stored.records;
  std::shared_ptr<const std::string> body = stored.body;
  std::vector<queue::RecipientRef> completes = std::move(stored.completes);
  // The suppression lookups read the spool: the writer makes them on its thread, just before
  // the write, so they cost no trip of their own (and no wait on this loop).
  queue::SpoolWriter::RecipientFilter keep;
  std::shared_ptr<Lookups> found;
  if (bounce::SuppressionList* list = context_.suppressions;
      list != nullptr && stored.check_suppression) {
    found = std::make_shared<Lookups>(records.size());
    keep = [list, found](const queue::MessageMeta& m, const queue::RecipientRecord& r) {
      absl::StatusOr<std::optional<bounce::SuppressionEntry>> entry =
          list->Lookup(r.address, m.tenant);
      // A list that cannot be read suppresses nothing: the mail is the platform's to send.
      if (!entry.ok()) LOG_EVERY_N_SEC(ERROR, 60) << "suppression lookup: " << entry.status();
      if (entry.ok() && entry->has_value() && r.index < found->size()) {
        (*found)[r.index] = **std::move(entry);
        return false;
      }
      return true;
    };
  }
  // The completion runs on the spool writer's thread: hop back to this shard.
  context_.writer->Insert(
      std::move(meta), std::move(body), std::move(records),
      [this, alive = liveness_.weak(), shard = shard_, stored = std::move(stored),
       found](absl::Status status) mutable {
        shard->Post(
            [this, alive, stored = std::move(stored), found, status = std::move(status)]() mutable {
              if (!alive.alive()) return;
              // (A failed write kept nothing, and the client sends the message again.)
              if (found != nullptr && (status.ok() || absl::IsFailedPrecondition(status))) {
                LeaveOutSuppressed(stored, *found);
              }
              OnStored(std::move(stored), std::move(status));
            });
      },
      std::move(keep), std::move(completes));
}

void Injector::EmitFor(const Stored& stored, events::EventType type, absl::string_view recipient,
                       absl::string_view domain, const smtp::Reply& reply) {
  const queue::MessageMeta& meta = stored.meta;
  const std::string queue_id = queue::FormatQueueId(meta.id);
  events::RecipientEvent event;
  event.type = type;
  event.queue_id = queue_id;
  event.sender = meta.sender;
  event.recipient = recipient;
  event.domain = domain;
  event.size = meta.size;
  event.reply = &reply;
  event.peer_address = stored.peer_address;
  event.peer_name = stored.helo;
  event.auth_user = stored.auth_user;
  event.tls_version = stored.tls_version;
  event.tls_cipher = stored.tls_cipher;
  event.message_id = meta.message_id;
  event.tenant = meta.tenant;
  event.campaign = meta.campaign;
  event.priority = meta.priority;
  event.metadata = meta.metadata;
  event.timestamp = meta.created;
  event.created = meta.created;
  context_.events->OnEvent(event);
}

void Injector::OnStored(Stored stored, absl::Status status) {
  --pending_;
  if (status.code() == absl::StatusCode::kFailedPrecondition) {
    stored.done(absl::FailedPreconditionError("every recipient is on the suppression list"));
    return;
  }
  if (!status.ok()) {
    // Nothing was kept: the client keeps the message and retries later.
    if (status.code() == absl::StatusCode::kUnavailable) {
      stored.done(absl::UnavailableError("the spool writer has stopped"));
      return;
    }
    LOG_EVERY_N_SEC(ERROR, 5) << "spool write failed; refusing the message: " << status;
    stored.done(absl::ResourceExhaustedError(status.message()));
    return;
  }
  std::shared_ptr<const delivery::MessageInfo> info = delivery::MakeMessageInfo(stored.meta);
  const smtp::Reply ok = smtp::MakeLocalReply(smtp::LocalReply::kQueued, info->queue_id);
  events::EventSink& events = *context_.events;
  events.OnMessageReceived({stored.listener, stored.records.size()});
  std::vector<delivery::RecipientPtr> recipients;
  recipients.reserve(stored.records.size());
  for (queue::RecipientRecord& record : stored.records) {
    delivery::RecipientPtr r = delivery::MakeRecipient(info, stored.body, std::move(record));
    EmitFor(stored, events::EventType::kReception, r->address, r->domain, ok);
    recipients.push_back(std::move(r));
  }
  // The Reception records are queued before any delivery can be logged for these recipients.
  delivery::DeliveryShard::Dispatch(*router_, std::move(recipients));
  stored.done(info->queue_id);
}

}  // namespace volley::inject
