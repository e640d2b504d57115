// What a shard holds in memory for one queued recipient. The spool has the durable copy; this
// is a cache of it plus, while the recipient is about to be delivered, a reference to the body.
#ifndef VOLLEY_ENGINE_DELIVERY_QUEUED_RECIPIENT_H_
#define VOLLEY_ENGINE_DELIVERY_QUEUED_RECIPIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "queue/spool.h"

namespace volley::delivery {

// Immutable once created; shared by the recipients of one message across shards.
struct MessageInfo {
  queue::MessageId id = 0;
  std::string queue_id;  // FormatQueueId(id)
  std::string sender;
  absl::Time created;
  uint64_t size = 0;
  std::string message_id;
  bool eight_bit = false;
  bool smtputf8 = false;
  std::string dsn_ret;
  std::string dsn_envid;
  std::string tenant;                          // "" = none
  std::string campaign;                        // "" = none
  uint8_t priority = queue::kDefaultPriority;  // 0 to 9, higher goes first
  std::string metadata;                        // a JSON object as compact text, "" = none
};

struct QueuedRecipient {
  std::shared_ptr<const MessageInfo> message;
  // The content; null until loaded from the spool (after recovery, or for a retry).
  std::shared_ptr<const std::string> body;
  uint32_t index = 0;
  std::string address;
  std::string domain;  // lower-case
  uint32_t attempts = 0;
  absl::Time due = absl::InfinitePast();
  std::string last_response;
  std::string dsn_notify;
  std::string dsn_orcpt;
  bool delay_notified = false;  // a delay DSN went to the sender (never a second one)
};

using RecipientPtr = std::unique_ptr<QueuedRecipient>;

// Where and how a delivery attempt went, for log records.
struct AttemptInfo {
  std::optional<std::string> peer_name;
  std::optional<std::string> peer_address;
  std::string site;
  std::string tls_version;  // "" without TLS
  std::string tls_cipher;
  std::string egress_pool;
  std::string egress_source;
  bool peer_offers_dsn = false;  // the server offered DSN (RFC 3461): NOTIFY went on to it
};

// The in-memory view of a spooled message, shared by its recipients.
std::shared_ptr<const MessageInfo> MakeMessageInfo(const queue::MessageMeta& meta);

// A queued recipient from its spool record (its domain taken from the address). `body` may be
// null: the shard loads it from the spool when the recipient is due.
RecipientPtr MakeRecipient(std::shared_ptr<const MessageInfo> message,
                           std::shared_ptr<const std::string> body, queue::RecipientRecord record);

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_QUEUED_RECIPIENT_H_
