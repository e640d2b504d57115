// The body of POST /api/inject/v1, KumoMTA's InjectV1Request with Volley's tenant, campaign,
// priority and per-recipient metadata: read from JSON and checked field by field, so that a bad
// request is answered 400 naming its field before any message is built.
#ifndef VOLLEY_ENGINE_INJECT_INJECT_V1_REQUEST_H_
#define VOLLEY_ENGINE_INJECT_INJECT_V1_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::inject {

// How content is expanded per recipient. KumoMTA's default dialect is Jinja; Volley's is
// Mustache (kainjow), whose {{ name }} placeholders are what both have in common. "Jinja" and
// "Handlebars" are refused rather than rendered by a dialect that only looks alike.
enum class TemplateDialect { kMustache, kStatic };

struct V1Mailbox {
  std::string email;
  std::string name;  // "" for none
};

struct V1Attachment {
  std::string data;  // decoded: the bytes the recipient gets
  std::string content_type;
  std::string file_name;   // "" for none
  std::string content_id;  // "" for none; set: an inline part (multipart/related)
};

// `content` as an object: the message is built from these (mime_builder.h).
struct V1StructuredContent {
  std::string subject;  // "" for none
  std::optional<V1Mailbox> from;
  std::optional<V1Mailbox> reply_to;
  std::optional<std::string> text_body;
  std::optional<std::string> html_body;
  // Name -> value, in name order (a JSON object, as KumoMTA reads it).
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<V1Attachment> attachments;
};

struct V1Recipient {
  std::string email;
  std::optional<std::string> name;
  nlohmann::json substitutions = nlohmann::json::object();
  std::string metadata;  // a JSON object as compact text, "" for none
};

struct InjectV1Request {
  std::string envelope_sender;  // "" for the null reverse-path
  std::vector<V1Recipient> recipients;
  // `content` as a string: an RFC 5322 message (raw), or as an object (structured).
  bool raw = false;
  std::string raw_content;
  V1StructuredContent structured;
  nlohmann::json substitutions = nlohmann::json::object();
  TemplateDialect dialect = TemplateDialect::kMustache;
  // Unset: the X-Volley-* headers of raw content, else none and normal.
  std::optional<std::string> tenant;
  std::optional<std::string> campaign;
  std::optional<uint8_t> priority;
};

struct InjectV1Limits {
  size_t max_recipients = 100000;
  // One recipient's metadata, as compact JSON. It travels in memory with every message due soon
  // (delivery::MessageInfo), so it is kept small.
  size_t max_metadata_bytes = 2048;
  // Arrays and objects nested at most this deep (substitutions, metadata).
  size_t max_depth = 32;
};

// Parses and checks a request body. Errors (FieldOf names the field, e.g.
// "recipients[2].email", "content.attachments[0].data"):
//   InvalidArgument  not JSON, a missing or mistyped field, an unknown field (KumoMTA's
//                    deny_unknown_fields), a value that cannot be (a bad tenant, a sender that
//                    is not an address, base64 that does not decode), or a KumoMTA option this
//                    version does not support (deferred_spool, deferred_generation,
//                    trace_headers, amp_html_body, the Jinja and Handlebars dialects)
//   OutOfRange       more recipients than the limit (answered 413)
// A recipient's email is only checked for being a string here: an address that cannot be used
// fails that recipient alone (the batch goes on), as KumoMTA does.
absl::StatusOr<InjectV1Request> ParseInjectV1Request(absl::string_view body,
                                                     const InjectV1Limits& limits);

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_INJECT_V1_REQUEST_H_
