// The spool's records and how they are stored. Keys are big-endian fixed-width integers, so
// that RocksDB's byte order is numeric order; values are varints and length-prefixed strings,
// each record's value starting with a format byte so that a record can grow without a schema
// change. spool.h says which column family holds which record.
//
// Thread-safety: plain values and pure functions, usable from any thread.
#ifndef VOLLEY_QUEUE_ENCODING_H_
#define VOLLEY_QUEUE_ENCODING_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::queue {

void PutFixed32BE(std::string* out, uint32_t value);
void PutFixed64BE(std::string* out, uint64_t value);
void PutVarint64(std::string* out, uint64_t value);
void PutLengthPrefixed(std::string* out, absl::string_view value);

// Readers consume from the front of *in and return false on truncated or malformed input.
bool GetFixed32BE(absl::string_view* in, uint32_t* value);
bool GetFixed64BE(absl::string_view* in, uint64_t* value);
bool GetVarint64(absl::string_view* in, uint64_t* value);
bool GetLengthPrefixed(absl::string_view* in, std::string* value);

using MessageId = uint64_t;

// A message's priority when none was given (engine/message/message_tags.h: "normal"); 0 to 9,
// higher goes first.
inline constexpr uint8_t kDefaultPriority = 5;

// Queue ids as users see them: 16 lower-case hex digits.
std::string FormatQueueId(MessageId id);
std::optional<MessageId> ParseQueueId(absl::string_view text);

struct MessageMeta {
  MessageId id = 0;
  std::string sender;  // envelope sender; "" for the null reverse-path
  absl::Time created = absl::UnixEpoch();
  uint64_t size = 0;  // octets of content
  uint32_t num_recipients = 0;
  std::string message_id;  // the Message-ID header, for log records
  bool eight_bit = false;  // the content has octets above 127
  bool smtputf8 = false;   // injected with SMTPUTF8 (RFC 6531): must be relayed with it
  std::string dsn_ret;     // RFC 3461 RET (FULL or HDRS), "" when not given
  std::string dsn_envid;   // RFC 3461 ENVID (xtext as received), "" when not given
  std::string tenant;      // who the message is sent for, "" for none
  std::string campaign;    // "" for none
  uint8_t priority = kDefaultPriority;
  // Opaque to the engine: copied into every log record's "meta" (KumoMTA's per-message meta;
  // HTTP injection's "metadata"). The injector stores what its adapter gave it.
  std::string metadata;  // a JSON object as compact text, "" for none

  friend bool operator==(const MessageMeta&, const MessageMeta&) = default;
};

struct RecipientRecord {
  uint32_t index = 0;  // position among the message's recipients
  std::string address;
  uint32_t attempts = 0;
  absl::Time next_due = absl::InfinitePast();  // InfinitePast: due at once
  std::string last_response;                   // the last transient failure, for operators
  std::string dsn_notify;                      // RFC 3461 NOTIFY as received, "" when not given
  std::string dsn_orcpt;                       // RFC 3461 ORCPT as received, "" when not given
  bool delay_notified = false;                 // a delay notice (DSN) went to the sender

  friend bool operator==(const RecipientRecord&, const RecipientRecord&) = default;
};

// A due-time index entry; ordered as the index is.
struct ScheduleKey {
  int64_t due_us = 0;  // 0: due at once
  MessageId id = 0;
  uint32_t index = 0;

  static ScheduleKey For(MessageId id, uint32_t index, absl::Time due);
  std::string Encode() const;
  static bool Decode(absl::string_view key, ScheduleKey* out);
  friend auto operator<=>(const ScheduleKey&, const ScheduleKey&) = default;
};

// The key of a message's meta and of its body: BE64(id).
std::string EncodeMessageKey(MessageId id);
// The key of a recipient record: BE64(id) BE32(index), so a message's recipients are adjacent.
std::string EncodeRecipientKey(MessageId id, uint32_t index);

std::string EncodeMeta(const MessageMeta& meta);
bool DecodeMeta(MessageId id, absl::string_view value, MessageMeta* meta);
std::string EncodeRecipient(const RecipientRecord& record);
bool DecodeRecipient(uint32_t index, absl::string_view value, RecipientRecord* record);

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_ENCODING_H_
