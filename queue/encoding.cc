#include "queue/encoding.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace volley::queue {
namespace {

// The format byte each value starts with; a record that grows gets a new one, and the decoder
// keeps reading the older ones. Message records: 1 up to the DSN ENVID; 2 adds the tenant, the
// campaign and the priority (format 1 records read as none, none, kDefaultPriority); 3 adds the
// metadata after the priority (formats 1 and 2 read as "").
constexpr uint8_t kMetaFormatV1 = 1;
constexpr uint8_t kMetaFormatV2 = 2;
constexpr uint8_t kMetaFormat = 3;
constexpr uint8_t kRecipientFormat = 1;
// RecipientRecord flags.
constexpr uint64_t kRecipientDelayNotified = 1;

// Times are stored as microseconds since the epoch, 0 standing for "at once".
int64_t TimeToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixMicros(t);
}

absl::Time MicrosToTime(int64_t us) {
  if (us == 0) return absl::InfinitePast();
  return absl::FromUnixMicros(us);
}

}  // namespace

void PutFixed32BE(std::string* out, uint32_t value) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(buf, 4);
}

void PutFixed64BE(std::string* out, uint64_t value) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(buf, 8);
}

void PutVarint64(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void PutLengthPrefixed(std::string* out, absl::string_view value) {
  PutVarint64(out, value.size());
  out->append(value.data(), value.size());
}

bool GetFixed32BE(absl::string_view* in, uint32_t* value) {
  if (in->size() < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(4);
  *value = v;
  return true;
}

bool GetFixed64BE(absl::string_view* in, uint64_t* value) {
  if (in->size() < 8) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  *value = v;
  return true;
}

bool GetVarint64(absl::string_view* in, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0, i = 0; shift <= 63 && i < static_cast<int>(in->size()); shift += 7, ++i) {
    uint64_t byte = static_cast<uint8_t>((*in)[i]);
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      *value = result;
      return true;
    }
  }
  return false;
}

bool GetLengthPrefixed(absl::string_view* in, std::string* value) {
  uint64_t length;
  absl::string_view rest = *in;
  if (!GetVarint64(&rest, &length) || rest.size() < length) return false;
  value->assign(rest.data(), length);
  rest.remove_prefix(length);
  *in = rest;
  return true;
}

std::string FormatQueueId(MessageId id) { return absl::StrFormat("%016x", id); }

ScheduleKey ScheduleKey::For(MessageId id, uint32_t index, absl::Time due) {
  ScheduleKey key;
  key.due_us = due == absl::InfinitePast() ? 0 : std::max<int64_t>(1, absl::ToUnixMicros(due));
  key.id = id;
  key.index = index;
  return key;
}

std::string ScheduleKey::Encode() const {
  std::string out;
  out.reserve(20);
  PutFixed64BE(&out, static_cast<uint64_t>(due_us));
  PutFixed64BE(&out, id);
  PutFixed32BE(&out, index);
  return out;
}

bool ScheduleKey::Decode(absl::string_view key, ScheduleKey* out) {
  uint64_t due;
  if (key.size() != 20 || !GetFixed64BE(&key, &due) || !GetFixed64BE(&key, &out->id) ||
      !GetFixed32BE(&key, &out->index)) {
    return false;
  }
  out->due_us = static_cast<int64_t>(due);
  return true;
}

std::optional<MessageId> ParseQueueId(absl::string_view text) {
  if (text.size() != 16) return std::nullopt;
  MessageId id = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    id = (id << 4) | static_cast<MessageId>(digit);
  }
  return id;
}

std::string EncodeMeta(const MessageMeta& meta) {
  std::string out;
  out.push_back(static_cast<char>(kMetaFormat));
  PutVarint64(&out, static_cast<uint64_t>(TimeToMicros(meta.created)));
  PutLengthPrefixed(&out, meta.sender);
  PutVarint64(&out, meta.size);
  PutVarint64(&out, meta.num_recipients);
  PutLengthPrefixed(&out, meta.message_id);
  PutVarint64(&out, (meta.eight_bit ? 1 : 0) | (meta.smtputf8 ? 2 : 0));
  PutLengthPrefixed(&out, meta.dsn_ret);
  PutLengthPrefixed(&out, meta.dsn_envid);
  PutLengthPrefixed(&out, meta.tenant);
  PutLengthPrefixed(&out, meta.campaign);
  PutVarint64(&out, meta.priority);
  PutLengthPrefixed(&out, meta.metadata);
  return out;
}

bool DecodeMeta(MessageId id, absl::string_view value, MessageMeta* meta) {
  if (value.empty()) return false;
  const uint8_t format = static_cast<uint8_t>(value[0]);
  if (format != kMetaFormatV1 && format != kMetaFormatV2 && format != kMetaFormat) return false;
  value.remove_prefix(1);
  uint64_t created, size, count, flags;
  if (!GetVarint64(&value, &created) || !GetLengthPrefixed(&value, &meta->sender) ||
      !GetVarint64(&value, &size) || !GetVarint64(&value, &count) ||
      !GetLengthPrefixed(&value, &meta->message_id) || !GetVarint64(&value, &flags) ||
      !GetLengthPrefixed(&value, &meta->dsn_ret) || !GetLengthPrefixed(&value, &meta->dsn_envid)) {
    return false;
  }
  if (format == kMetaFormatV1) {
    meta->tenant.clear();
    meta->campaign.clear();
    meta->priority = kDefaultPriority;
  } else {
    uint64_t priority;
    if (!GetLengthPrefixed(&value, &meta->tenant) || !GetLengthPrefixed(&value, &meta->campaign) ||
        !GetVarint64(&value, &priority) || priority > UINT8_MAX) {
      return false;
    }
    meta->priority = static_cast<uint8_t>(priority);
  }
  if (format == kMetaFormat) {
    if (!GetLengthPrefixed(&value, &meta->metadata)) return false;
  } else {
    meta->metadata.clear();
  }
  meta->eight_bit = (flags & 1) != 0;
  meta->smtputf8 = (flags & 2) != 0;
  meta->id = id;
  meta->created = MicrosToTime(static_cast<int64_t>(created));
  meta->size = size;
  meta->num_recipients = static_cast<uint32_t>(count);
  return true;
}

std::string EncodeRecipient(const RecipientRecord& record) {
  std::string out;
  out.reserve(record.address.size() + record.last_response.size() + 16);
  out.push_back(static_cast<char>(kRecipientFormat));
  PutLengthPrefixed(&out, record.address);
  PutVarint64(&out, record.attempts);
  PutVarint64(&out, static_cast<uint64_t>(TimeToMicros(record.next_due)));
  PutLengthPrefixed(&out, record.last_response);
  PutLengthPrefixed(&out, record.dsn_notify);
  PutLengthPrefixed(&out, record.dsn_orcpt);
  // Flags, last: a record written before they existed ends before them and reads as 0.
  PutVarint64(&out, record.delay_notified ? kRecipientDelayNotified : 0);
  return out;
}

bool DecodeRecipient(uint32_t index, absl::string_view value, RecipientRecord* record) {
  if (value.empty() || static_cast<uint8_t>(value[0]) != kRecipientFormat) return false;
  value.remove_prefix(1);
  uint64_t attempts, due;
  if (!GetLengthPrefixed(&value, &record->address) || !GetVarint64(&value, &attempts) ||
      !GetVarint64(&value, &due) || !GetLengthPrefixed(&value, &record->last_response) ||
      !GetLengthPrefixed(&value, &record->dsn_notify) ||
      !GetLengthPrefixed(&value, &record->dsn_orcpt)) {
    return false;
  }
  uint64_t flags = 0;
  if (!value.empty() && !GetVarint64(&value, &flags)) return false;
  record->delay_notified = (flags & kRecipientDelayNotified) != 0;
  record->index = index;
  record->attempts = static_cast<uint32_t>(attempts);
  record->next_due = MicrosToTime(static_cast<int64_t>(due));
  return true;
}

std::string EncodeMessageKey(MessageId id) {
  std::string key;
  PutFixed64BE(&key, id);
  return key;
}

std::string EncodeRecipientKey(MessageId id, uint32_t index) {
  std::string key;
  key.reserve(12);
  PutFixed64BE(&key, id);
  PutFixed32BE(&key, index);
  return key;
}

}  // namespace volley::queue
