#include "engine/inject/inject_v1_builder.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "engine/base/bytes.h"
#include "engine/base/json_request.h"
#include "engine/message/control_headers.h"
#include "engine/message/mime_builder.h"
#include "engine/message/mime_encoding.h"
#include "engine/smtp/address_check.h"
#include "engine/smtp/command_parser.h"

namespace volley::inject {
namespace {

// RFC 5322 2.1.1: a line is at most 998 octets before its CRLF.
constexpr size_t kMaxLineLength = 998;

// Where the header section of `text` ends: the offset of the empty line's first octet and the
// offset of the body (npos, npos without an empty line: all header).
std::pair<size_t, size_t> SplitHeaderSection(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n') continue;
    if (i + 1 < text.size() && text[i + 1] == '\n') return {i + 1, i + 2};
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') return {i + 1, i + 3};
  }
  return {absl::string_view::npos, absl::string_view::npos};
}

// A message the spool can keep and SMTP carry: no NUL, no line beyond 998 octets, a header
// section that starts with a field.
absl::Status CheckMessage(absl::string_view content, uint64_t max_size) {
  if (content.size() > max_size) {
    return FieldError("content", absl::StrCat("the message is ", content.size(),
                                              " bytes, more than [http] "
                                              "inject_max_message_size (",
                                              max_size, ")"));
  }
  const size_t colon = content.find(':');
  const size_t line_end = content.find("\r\n");
  if (colon == absl::string_view::npos || colon > line_end ||
      !message::IsFieldName(content.substr(0, colon))) {
    return FieldError("content", "not an RFC 5322 message: it must start with a header field");
  }
  size_t line_start = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (c == '\0') return FieldError("content", "the message has a NUL octet");
    if (c == '\n') {
      if (i - line_start > kMaxLineLength + 1) {
        return FieldError("content", absl::StrCat("a line is longer than ", kMaxLineLength,
                                                  " octets (RFC 5322 2.1.1)"));
      }
      line_start = i + 1;
    }
  }
  if (content.size() - line_start > kMaxLineLength) {
    return FieldError("content", absl::StrCat("a line is longer than ", kMaxLineLength, " octets"));
  }
  return absl::OkStatus();
}

message::Mailbox ToMailbox(const V1Mailbox& m) { return message::Mailbox{m.name, m.email}; }

}  // namespace

InjectV1Builder::InjectV1Builder(InjectV1Request request, BuildOptions options)
    : request_(std::move(request)), options_(std::move(options)), global_(request_.substitutions) {}

absl::StatusOr<std::unique_ptr<InjectV1Builder>> InjectV1Builder::Create(InjectV1Request request,
                                                                         BuildOptions options) {
  std::unique_ptr<InjectV1Builder> builder(
      new InjectV1Builder(std::move(request), std::move(options)));
  absl::Status compiled =
      builder->request_.raw ? builder->CompileRaw() : builder->CompileStructured();
  if (!compiled.ok()) return compiled;
  // The request's copy of the substitutions is in global_ now.
  builder->request_.substitutions = nlohmann::json();
  return builder;
}

absl::Status InjectV1Builder::CompileRaw() {
  std::string& raw = request_.raw_content;
  const auto [blank, body] = SplitHeaderSection(raw);
  std::string headers = raw.substr(0, blank);
  std::string rest = body == absl::string_view::npos ? std::string() : raw.substr(blank);
  raw = std::string();
  using Escape = ContentTemplate::Escape;
  absl::StatusOr<std::unique_ptr<ContentTemplate>> h = ContentTemplate::Compile(
      std::move(headers), request_.dialect, Escape::kHeaderSection, "content");
  if (!h.ok()) return h.status();
  absl::StatusOr<std::unique_ptr<ContentTemplate>> b =
      ContentTemplate::Compile(std::move(rest), request_.dialect, Escape::kNone, "content");
  if (!b.ok()) return b.status();
  raw_headers_ = *std::move(h);
  raw_body_ = *std::move(b);
  return absl::OkStatus();
}

absl::Status InjectV1Builder::CompileStructured() {
  V1StructuredContent& c = request_.structured;
  using Escape = ContentTemplate::Escape;
  bool has_from = c.from.has_value();
  for (auto& [name, value] : c.headers) {
    const std::string field = absl::StrCat("content.headers.", name);
    if (absl::EqualsIgnoreCase(name, "From")) has_from = true;
    if (absl::EqualsIgnoreCase(name, "To")) has_to_header_ = true;
    absl::StatusOr<std::unique_ptr<ContentTemplate>> t =
        ContentTemplate::Compile(value, request_.dialect, Escape::kNoLineBreaks, field);
    if (!t.ok()) return t.status();
    header_values_.push_back(*std::move(t));
  }
  if (!has_from) {
    return FieldError("content.from", "required: a message needs a From header (RFC 5322 3.6)");
  }
  absl::StatusOr<std::unique_ptr<ContentTemplate>> subject = ContentTemplate::Compile(
      c.subject, request_.dialect, Escape::kNoLineBreaks, "content.subject");
  if (!subject.ok()) return subject.status();
  subject_ = *std::move(subject);
  if (c.text_body.has_value()) {
    absl::StatusOr<std::unique_ptr<ContentTemplate>> t = ContentTemplate::Compile(
        *std::move(c.text_body), request_.dialect, Escape::kNone, "content.text_body");
    if (!t.ok()) return t.status();
    text_ = *std::move(t);
  }
  if (c.html_body.has_value()) {
    absl::StatusOr<std::unique_ptr<ContentTemplate>> t = ContentTemplate::Compile(
        *std::move(c.html_body), request_.dialect, Escape::kHtml, "content.html_body");
    if (!t.ok()) return t.status();
    html_ = *std::move(t);
  }
  c.text_body.reset();
  c.html_body.reset();
  return absl::OkStatus();
}

std::string InjectV1Builder::NewMessageId(absl::Time now) {
  return absl::StrFormat("<%016x%08x.%d@%s>", absl::Uniform<uint64_t>(random_),
                         absl::Uniform<uint32_t>(random_), absl::ToUnixSeconds(now),
                         options_.hostname);
}

absl::StatusOr<std::string> InjectV1Builder::BuildRaw(const Substitutions& top) {
  absl::StatusOr<std::string> headers = raw_headers_->Render(global_, top);
  if (!headers.ok()) return headers.status();
  absl::StatusOr<std::string> body = raw_body_->Render(global_, top);
  if (!body.ok()) return body.status();
  std::string content = message::ToCrlf(absl::StrCat(*headers, *body));
  if (!absl::EndsWith(content, "\r\n")) content += "\r\n";
  return content;
}

absl::StatusOr<std::string> InjectV1Builder::BuildStructured(const V1Recipient& recipient,
                                                             const Substitutions& top,
                                                             absl::Time now) {
  const V1StructuredContent& c = request_.structured;
  message::MimeMessage m;
  if (c.from.has_value()) m.from = ToMailbox(*c.from);
  if (c.reply_to.has_value()) m.reply_to = ToMailbox(*c.reply_to);
  if (!has_to_header_)
    m.to.push_back(message::Mailbox{recipient.name.value_or(""), recipient.email});
  absl::StatusOr<std::string> subject = subject_->Render(global_, top);
  if (!subject.ok()) return subject.status();
  m.subject = *std::move(subject);
  m.headers.reserve(c.headers.size());
  for (size_t h = 0; h < c.headers.size(); ++h) {
    absl::StatusOr<std::string> value = header_values_[h]->Render(global_, top);
    if (!value.ok()) return value.status();
    m.headers.emplace_back(c.headers[h].first, *std::move(value));
  }
  if (text_ != nullptr) {
    absl::StatusOr<std::string> text = text_->Render(global_, top);
    if (!text.ok()) return text.status();
    m.text_body = *std::move(text);
  }
  if (html_ != nullptr) {
    absl::StatusOr<std::string> html = html_->Render(global_, top);
    if (!html.ok()) return html.status();
    m.html_body = *std::move(html);
  }
  m.attachments.reserve(c.attachments.size());
  for (const V1Attachment& a : c.attachments) {
    m.attachments.push_back(
        message::MimeAttachment{a.data, a.content_type, a.file_name, a.content_id});
  }
  m.date = now;
  m.message_id = NewMessageId(now);
  absl::StatusOr<std::string> built = message::BuildMime(m);
  if (!built.ok()) {
    // The builder names the field below content, and starts its message with it.
    const std::string field = FieldOf(built.status());
    absl::string_view why = built.status().message();
    if (field.empty()) return FieldError("content", why);
    absl::ConsumePrefix(&why, absl::StrCat(field, ": "));
    return FieldError(absl::StrCat("content.", field), why);
  }
  return built;
}

absl::StatusOr<BuiltMessage> InjectV1Builder::Build(size_t i, absl::Time now) {
  const V1Recipient& recipient = request_.recipients[i];
  if (!smtp::IsValidMailbox(recipient.email)) {
    return FieldError(
        "email", absl::StrCat(message::QuoteForMessage(recipient.email), " is not an address"));
  }
  if (std::optional<smtp::Reply> refused =
          smtp::CheckEnvelopeAddress(recipient.email, /*smtputf8=*/true)) {
    return FieldError("email", refused->Text());
  }
  BuiltMessage built;
  built.smtputf8 = HasEightBit(recipient.email) || HasEightBit(request_.envelope_sender);
  // The built-in variables, under the recipient's own substitutions (KumoMTA's order).
  Substitutions top(recipient.substitutions);
  if (recipient.name.has_value() && recipient.name->find_first_of("\r\n") != std::string::npos) {
    return FieldError("name", "has a line break, which would start a header field of its own");
  }
  absl::StatusOr<std::string> to_header =
      message::FormatMailbox(recipient.name.value_or(""), recipient.email);
  if (!to_header.ok()) return FieldError("email", to_header.status().message());
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"email", &recipient.email},
        {"to_header", &*to_header}}) {
    if (!recipient.substitutions.contains(name)) top.Set(name, *value);
  }
  if (recipient.name.has_value() && !recipient.substitutions.contains("name")) {
    top.Set("name", *recipient.name);
  }
  absl::StatusOr<std::string> content =
      request_.raw ? BuildRaw(top) : BuildStructured(recipient, top, now);
  if (!content.ok()) return content.status();
  if (absl::Status ok = CheckMessage(*content, options_.max_message_size); !ok.ok()) return ok;
  // X-Volley-* headers (of raw content, or given in content.headers) set the tags as over SMTP;
  // the request's fields win over them.
  absl::StatusOr<message::MessageTags> tags =
      message::ExtractControlHeaders(message::ControlHeaderPolicy(), &*content);
  if (!tags.ok()) return FieldError("content", tags.status().message());
  built.tags = *std::move(tags);
  if (request_.tenant.has_value()) built.tags.tenant = *request_.tenant;
  if (request_.campaign.has_value()) built.tags.campaign = *request_.campaign;
  if (request_.priority.has_value()) built.tags.priority = *request_.priority;
  // UTF-8 in the header section (an address in From or To, a raw message's own fields) needs
  // SMTPUTF8 as an address in the envelope does (RFC 6532).
  built.smtputf8 = built.smtputf8 || HasEightBit(absl::string_view(*content).substr(
                                         0, SplitHeaderSection(*content).first));
  built.content = *std::move(content);
  built.metadata = recipient.metadata;
  return built;
}

}  // namespace volley::inject
