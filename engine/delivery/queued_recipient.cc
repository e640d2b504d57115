#include "engine/delivery/queued_recipient.h"

#include <utility>

#include "engine/smtp/command_parser.h"

namespace volley::delivery {

std::shared_ptr<const MessageInfo> MakeMessageInfo(const queue::MessageMeta& meta) {
  auto info = std::make_shared<MessageInfo>();
  info->id = meta.id;
  info->queue_id = queue::FormatQueueId(meta.id);
  info->sender = meta.sender;
  info->created = meta.created;
  info->size = meta.size;
  info->message_id = meta.message_id;
  info->eight_bit = meta.eight_bit;
  info->smtputf8 = meta.smtputf8;
  info->dsn_ret = meta.dsn_ret;
  info->dsn_envid = meta.dsn_envid;
  info->tenant = meta.tenant;
  info->campaign = meta.campaign;
  info->priority = meta.priority;
  info->metadata = meta.metadata;
  return info;
}

RecipientPtr MakeRecipient(std::shared_ptr<const MessageInfo> message,
                           std::shared_ptr<const std::string> body, queue::RecipientRecord record) {
  auto r = std::make_unique<QueuedRecipient>();
  r->message = std::move(message);
  r->body = std::move(body);
  r->index = record.index;
  r->domain = smtp::DomainOf(record.address);
  r->address = std::move(record.address);
  r->attempts = record.attempts;
  r->due = record.next_due;
  r->last_response = std::move(record.last_response);
  r->dsn_notify = std::move(record.dsn_notify);
  r->dsn_orcpt = std::move(record.dsn_orcpt);
  r->delay_notified = record.delay_notified;
  return r;
}

}  // namespace volley::delivery
