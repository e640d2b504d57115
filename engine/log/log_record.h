// Delivery log records: one JSON object per line, fields as in KumoMTA's log record (see the
// README's "Delivery log").
#ifndef VOLLEY_ENGINE_LOG_LOG_RECORD_H_
#define VOLLEY_ENGINE_LOG_LOG_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "engine/smtp/reply.h"

namespace volley {

enum class RecordType {
  kReception,
  kDelivery,
  kTransientFailure,
  kBounce,
  kExpiration,
};

absl::string_view RecordTypeName(RecordType type);

struct LogRecord {
  RecordType type = RecordType::kReception;
  std::string id;  // queue id
  std::string sender;
  std::string recipient;
  std::string queue;  // the recipient's domain
  std::string site;
  uint64_t size = 0;
  uint32_t num_attempts = 0;
  // The reply that decided this record (for Reception: our own 250).
  int code = 0;
  std::optional<smtp::EnhancedCode> enhanced;
  std::string content;
  std::optional<std::string> command;  // the command the reply answered, when there was one
  std::optional<std::string> peer_name;
  std::optional<std::string> peer_addr;
  std::string egress_pool;
  std::string egress_source;
  std::optional<std::string> tls_protocol_version;  // null without TLS
  std::optional<std::string> tls_cipher;
  std::string bounce_classification;  // "" for Reception and Delivery: written as null
  std::string message_id;             // the Message-ID header
  absl::Time timestamp = absl::UnixEpoch();
  absl::Time created = absl::UnixEpoch();
};

// Appends the record as one JSON object followed by '\n'.
void AppendLogRecord(const LogRecord& record, std::string* out);

}  // namespace volley

#endif  // VOLLEY_ENGINE_LOG_LOG_RECORD_H_
