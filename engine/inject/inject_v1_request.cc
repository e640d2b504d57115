#include "engine/inject/inject_v1_request.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/json_request.h"
#include "engine/message/message_tags.h"
#include "engine/smtp/address_check.h"
#include "engine/smtp/command_parser.h"

namespace volley::inject {
namespace {

using Json = nlohmann::json;

// Field names as the error names them: "content.from.email", "recipients[3].name".
std::string Path(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string Index(absl::string_view parent, size_t i) { return absl::StrCat(parent, "[", i, "]"); }

absl::Status CheckKnown(const Json& j, absl::string_view at,
                        std::initializer_list<absl::string_view> known) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool found = false;
    for (absl::string_view k : known) found = found || k == it.key();
    if (!found) {
      return FieldError(Path(at, it.key()),
                        absl::StrCat("unknown field (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// The field's string; absent or null is nullopt.
absl::StatusOr<std::optional<std::string>> StringField(const Json& j, const char* key,
                                                       absl::string_view at) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return FieldError(Path(at, key), "must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

absl::StatusOr<std::string> RequiredString(const Json& j, const char* key, absl::string_view at) {
  absl::StatusOr<std::optional<std::string>> s = StringField(j, key, at);
  if (!s.ok()) return s.status();
  if (!s->has_value()) return FieldError(Path(at, key), "required");
  return **std::move(s);
}

// A substitutions map: an object (or null, for none).
absl::StatusOr<Json> Substitutions(const Json& j, absl::string_view at) {
  auto it = j.find("substitutions");
  if (it == j.end() || it->is_null()) return Json::object();
  if (!it->is_object()) return FieldError(Path(at, "substitutions"), "must be an object");
  return *it;
}

absl::StatusOr<V1Mailbox> Mailbox(const Json& j, absl::string_view at) {
  if (!j.is_object()) return FieldError(at, "must be an object {\"email\", \"name\"}");
  if (absl::Status known = CheckKnown(j, at, {"email", "name"}); !known.ok()) return known;
  V1Mailbox mailbox;
  absl::StatusOr<std::string> email = RequiredString(j, "email", at);
  if (!email.ok()) return email.status();
  if (!smtp::IsValidMailbox(*email)) {
    return FieldError(Path(at, "email"),
                      absl::StrCat(message::QuoteForMessage(*email), " is not an address"));
  }
  mailbox.email = *std::move(email);
  absl::StatusOr<std::optional<std::string>> name = StringField(j, "name", at);
  if (!name.ok()) return name.status();
  mailbox.name = name->value_or("");
  return mailbox;
}

absl::StatusOr<V1Attachment> Attachment(const Json& j, absl::string_view at) {
  if (!j.is_object()) return FieldError(at, "must be an object");
  if (absl::Status known =
          CheckKnown(j, at, {"data", "content_type", "content_id", "file_name", "base64"});
      !known.ok()) {
    return known;
  }
  V1Attachment attachment;
  absl::StatusOr<std::string> data = RequiredString(j, "data", at);
  if (!data.ok()) return data.status();
  bool base64 = false;
  if (auto it = j.find("base64"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return FieldError(Path(at, "base64"), "must be true or false");
    base64 = it->get<bool>();
  }
  if (base64) {
    // Line breaks are common in base64 that was wrapped for mail; anything else is an error.
    std::string compact;
    compact.reserve(data->size());
    for (char c : *data) {
      if (c != '\r' && c != '\n') compact.push_back(c);
    }
    if (!absl::Base64Unescape(compact, &attachment.data)) {
      return FieldError(Path(at, "data"), "is not valid base64");
    }
  } else {
    attachment.data = *std::move(data);  // UTF-8 text, as KumoMTA reads it without base64
  }
  absl::StatusOr<std::string> type = RequiredString(j, "content_type", at);
  if (!type.ok()) return type.status();
  attachment.content_type = *std::move(type);
  absl::StatusOr<std::optional<std::string>> id = StringField(j, "content_id", at);
  if (!id.ok()) return id.status();
  attachment.content_id = id->value_or("");
  absl::StatusOr<std::optional<std::string>> file = StringField(j, "file_name", at);
  if (!file.ok()) return file.status();
  attachment.file_name = file->value_or("");
  return attachment;
}

absl::Status StructuredContent(const Json& j, V1StructuredContent* out) {
  constexpr absl::string_view at = "content";
  if (auto it = j.find("amp_html_body"); it != j.end()) {
    return FieldError("content.amp_html_body", "not supported yet by this version");
  }
  if (absl::Status known = CheckKnown(
          j, at,
          {"subject", "from", "reply_to", "text_body", "html_body", "headers", "attachments"});
      !known.ok()) {
    return known;
  }
  absl::StatusOr<std::optional<std::string>> subject = StringField(j, "subject", at);
  if (!subject.ok()) return subject.status();
  out->subject = subject->value_or("");
  for (const char* key : {"from", "reply_to"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    absl::StatusOr<V1Mailbox> mailbox = Mailbox(*it, Path(at, key));
    if (!mailbox.ok()) return mailbox.status();
    (absl::string_view(key) == "from" ? out->from : out->reply_to) = *std::move(mailbox);
  }
  absl::StatusOr<std::optional<std::string>> text = StringField(j, "text_body", at);
  if (!text.ok()) return text.status();
  out->text_body = *std::move(text);
  absl::StatusOr<std::optional<std::string>> html = StringField(j, "html_body", at);
  if (!html.ok()) return html.status();
  out->html_body = *std::move(html);
  if (auto it = j.find("headers"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      return FieldError("content.headers", "must be an object of header name to value");
    }
    for (auto h = it->begin(); h != it->end(); ++h) {
      const std::string field = absl::StrCat("content.headers.", h.key());
      if (!message::IsFieldName(h.key())) return FieldError(field, "is not a header name");
      if (!h->is_string()) return FieldError(field, "must be a string");
      out->headers.emplace_back(h.key(), h->get<std::string>());
    }
  }
  if (auto it = j.find("attachments"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return FieldError("content.attachments", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      absl::StatusOr<V1Attachment> attachment =
          Attachment((*it)[i], Index("content.attachments", i));
      if (!attachment.ok()) return attachment.status();
      out->attachments.push_back(*std::move(attachment));
    }
  }
  if (!out->text_body.has_value() && !out->html_body.has_value() && out->attachments.empty()) {
    return FieldError("content", "needs a text_body, an html_body or attachments");
  }
  return absl::OkStatus();
}

absl::StatusOr<V1Recipient> Recipient(const Json& j, absl::string_view at,
                                      const InjectV1Limits& limits) {
  if (!j.is_object()) return FieldError(at, "must be an object {\"email\", ...}");
  if (absl::Status known = CheckKnown(j, at, {"email", "name", "substitutions", "metadata"});
      !known.ok()) {
    return known;
  }
  V1Recipient recipient;
  absl::StatusOr<std::string> email = RequiredString(j, "email", at);
  if (!email.ok()) return email.status();
  recipient.email = *std::move(email);
  absl::StatusOr<std::optional<std::string>> name = StringField(j, "name", at);
  if (!name.ok()) return name.status();
  recipient.name = *std::move(name);
  absl::StatusOr<Json> substitutions = Substitutions(j, at);
  if (!substitutions.ok()) return substitutions.status();
  recipient.substitutions = *std::move(substitutions);
  if (auto it = j.find("metadata"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return FieldError(Path(at, "metadata"), "must be an object");
    recipient.metadata = it->dump();
    if (recipient.metadata.size() > limits.max_metadata_bytes) {
      return FieldError(Path(at, "metadata"),
                        absl::StrCat("larger than ", limits.max_metadata_bytes, " bytes"));
    }
  }
  return recipient;
}

// A tag field (tenant, campaign): absent or null for unset.
absl::Status TagField(const Json& j, const char* key, std::optional<std::string>* out) {
  absl::StatusOr<std::optional<std::string>> value = StringField(j, key, "");
  if (!value.ok()) return value.status();
  if (!value->has_value()) return absl::OkStatus();
  if (absl::Status valid = message::CheckTag(**value); !valid.ok()) {
    return FieldError(key, valid.message());
  }
  *out = *std::move(value);
  return absl::OkStatus();
}

absl::Status Options(const Json& j, InjectV1Request* request) {
  // KumoMTA's options that change how injection works; their defaults are what Volley does.
  for (const char* key : {"deferred_spool", "deferred_generation"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_boolean()) return FieldError(key, "must be true or false");
    if (it->get<bool>()) {
      return FieldError(key,
                        "not supported yet by this version (every message is synced to the "
                        "spool before the answer)");
    }
  }
  if (j.contains("trace_headers")) {
    return FieldError("trace_headers", "not supported yet by this version");
  }
  absl::StatusOr<std::optional<std::string>> dialect = StringField(j, "template_dialect", "");
  if (!dialect.ok()) return dialect.status();
  if (dialect->has_value()) {
    if (**dialect == "Mustache") {
      request->dialect = TemplateDialect::kMustache;
    } else if (**dialect == "Static") {
      request->dialect = TemplateDialect::kStatic;
    } else {
      return FieldError("template_dialect",
                        absl::StrCat(message::QuoteForMessage(**dialect),
                                     " is not supported by this version (Mustache, Static)"));
    }
  }
  if (absl::Status s = TagField(j, "tenant", &request->tenant); !s.ok()) return s;
  if (absl::Status s = TagField(j, "campaign", &request->campaign); !s.ok()) return s;
  if (auto it = j.find("priority"); it != j.end() && !it->is_null()) {
    std::string text;
    if (it->is_string()) {
      text = it->get<std::string>();
    } else if (it->is_number_unsigned()) {
      text = absl::StrCat(it->get<uint64_t>());
    } else {
      return FieldError("priority", "must be high, normal, bulk or 0 to 9");
    }
    absl::StatusOr<uint8_t> priority = message::ParsePriority(text);
    if (!priority.ok()) return FieldError("priority", priority.status().message());
    request->priority = *priority;
  }
  return absl::OkStatus();
}

// The deepest nesting of arrays and objects in `body` (JSON text, strings skipped). nlohmann
// parses any depth without recursion, but copies, dumps and the template data (FromJson) recurse:
// a request nested a hundred thousand deep must be refused before them, not crash a thread.
size_t NestingDepth(absl::string_view body) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

absl::StatusOr<InjectV1Request> ParseInjectV1Request(absl::string_view body,
                                                     const InjectV1Limits& limits) {
  if (NestingDepth(body) > limits.max_depth) {
    return FieldError("", absl::StrCat("the body nests arrays and objects deeper than ",
                                       limits.max_depth, " levels"));
  }
  absl::StatusOr<Json> parsed = ParseJsonObject(body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  if (absl::Status known = CheckKnown(j, "",
                                      {"envelope_sender", "recipients", "content", "substitutions",
                                       "template_dialect", "deferred_spool", "deferred_generation",
                                       "trace_headers", "tenant", "campaign", "priority"});
      !known.ok()) {
    return known;
  }
  InjectV1Request request;
  if (absl::Status options = Options(j, &request); !options.ok()) return options;

  absl::StatusOr<std::string> sender = RequiredString(j, "envelope_sender", "");
  if (!sender.ok()) return sender.status();
  if (!sender->empty()) {
    if (!smtp::IsValidMailbox(*sender)) {
      return FieldError("envelope_sender",
                        absl::StrCat(message::QuoteForMessage(*sender), " is not an address"));
    }
    if (std::optional<smtp::Reply> refused =
            smtp::CheckEnvelopeAddress(*sender, /*smtputf8=*/true)) {
      return FieldError("envelope_sender", refused->Text());
    }
  }
  request.envelope_sender = *std::move(sender);

  auto recipients = j.find("recipients");
  if (recipients == j.end()) return FieldError("recipients", "required");
  if (!recipients->is_array()) return FieldError("recipients", "must be an array");
  if (recipients->empty()) return FieldError("recipients", "needs at least one recipient");
  if (recipients->size() > limits.max_recipients) {
    absl::Status status = absl::OutOfRangeError(
        absl::StrCat("recipients: ", recipients->size(), " recipients; at most ",
                     limits.max_recipients, " per request ([http] inject_max_recipients)"));
    return status;
  }
  request.recipients.reserve(recipients->size());
  for (size_t i = 0; i < recipients->size(); ++i) {
    absl::StatusOr<V1Recipient> recipient =
        Recipient((*recipients)[i], Index("recipients", i), limits);
    if (!recipient.ok()) return recipient.status();
    request.recipients.push_back(*std::move(recipient));
  }

  auto content = j.find("content");
  if (content == j.end() || content->is_null()) return FieldError("content", "required");
  if (content->is_string()) {
    request.raw = true;
    request.raw_content = content->get<std::string>();
    if (request.raw_content.empty()) return FieldError("content", "is empty");
  } else if (content->is_object()) {
    if (absl::Status s = StructuredContent(*content, &request.structured); !s.ok()) return s;
  } else {
    return FieldError("content", "must be an RFC 5322 message (a string) or an object");
  }

  absl::StatusOr<Json> substitutions = Substitutions(j, "");
  if (!substitutions.ok()) return substitutions.status();
  request.substitutions = *std::move(substitutions);
  return request;
}

}  // namespace volley::inject
