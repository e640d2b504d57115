#include "engine/bounce/inbound_report.h"

#include <gmime/gmime.h>

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/message/header.h"

namespace volley::bounce {
namespace {

// Nested multiparts deeper than this are not followed (a hostile message could nest thousands).
constexpr int kMaxDepth = 16;

void InitGmimeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// Frees a GObject at the end of a scope.
struct Unref {
  void operator()(gpointer object) const {
    if (object != nullptr) g_object_unref(object);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, Unref>;

using Fields = std::vector<std::pair<std::string, std::string>>;

// The groups of fields of a delivery-status or feedback-report part: header-like blocks
// separated by empty lines (RFC 3464 2.1, RFC 5965 3.1).
// The fields `reader` gives until its section ends, unfolded and trimmed.
Fields ReadFields(message::HeaderReader& reader) {
  Fields fields;
  message::HeaderField field;
  while (reader.Next(&field)) {
    fields.emplace_back(std::string(field.name),
                        std::string(absl::StripAsciiWhitespace(message::UnfoldedValue(field))));
  }
  return fields;
}

std::vector<Fields> FieldGroups(absl::string_view text) {
  std::vector<Fields> groups;
  while (!text.empty()) {
    // Empty lines between groups.
    while (absl::ConsumePrefix(&text, "\r\n") || absl::ConsumePrefix(&text, "\n")) {
    }
    if (text.empty()) break;
    message::HeaderReader reader(text);
    Fields group = ReadFields(reader);
    if (group.empty()) {
      // A line that is not a field: skip it.
      const message::Line line = message::LineAt(text, 0);
      text.remove_prefix(line.next);
      continue;
    }
    groups.push_back(std::move(group));
    const absl::string_view rest = reader.body();
    if (rest.size() >= text.size()) break;
    text = rest;
  }
  return groups;
}

std::string FieldOf(const Fields& fields, absl::string_view name) {
  for (const auto& [n, v] : fields) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

// "rfc822; <a@b>" -> "a@b"; also without a type.
std::string AddressOf(absl::string_view typed) {
  if (const size_t semi = typed.find(';'); semi != absl::string_view::npos) {
    typed.remove_prefix(semi + 1);
  }
  typed = absl::StripAsciiWhitespace(typed);
  absl::ConsumePrefix(&typed, "<");
  absl::ConsumeSuffix(&typed, ">");
  return std::string(absl::StripAsciiWhitespace(typed));
}

// "smtp; 550 5.1.1 ..." -> "550 5.1.1 ...", the white space of folded lines made one space.
std::string WithoutType(absl::string_view typed) {
  if (const size_t semi = typed.find(';'); semi != absl::string_view::npos) {
    typed.remove_prefix(semi + 1);
  }
  std::string out(absl::StripAsciiWhitespace(typed));
  absl::RemoveExtraAsciiWhitespace(&out);
  return out;
}

// A leaf part's content, its transfer encoding undone.
std::string ContentOf(GMimePart* part) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (wrapper == nullptr) return "";
  GPtr<GMimeStream> stream(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(wrapper, stream.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::string MimeType(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return "text/plain";
  char* name = g_mime_content_type_get_mime_type(type);
  std::string out = absl::AsciiStrToLower(name != nullptr ? name : "");
  g_free(name);
  return out;
}

void TakeHeaders(GMimeObject* object, InboundReport* report) {
  GMimeHeaderList* list = g_mime_object_get_header_list(object);
  if (list == nullptr) return;
  const int count = g_mime_header_list_get_count(list);
  for (int i = 0; i < count; ++i) {
    GMimeHeader* header = g_mime_header_list_get_header_at(list, i);
    const char* name = g_mime_header_get_name(header);
    const char* value = g_mime_header_get_value(header);
    report->original_headers.emplace_back(
        name != nullptr ? name : "",
        std::string(absl::StripAsciiWhitespace(value != nullptr ? value : "")));
  }
}

void TakeHeaderText(absl::string_view text, InboundReport* report) {
  message::HeaderReader reader(text);
  report->original_headers = ReadFields(reader);
}

void ReadDeliveryStatus(absl::string_view text, InboundReport* report) {
  std::vector<Fields> groups = FieldGroups(text);
  if (groups.empty()) return;
  report->reporting_mta = WithoutType(FieldOf(groups[0], "Reporting-MTA"));
  report->original_envelope_id = FieldOf(groups[0], "Original-Envelope-Id");
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string final_recipient = FieldOf(groups[i], "Final-Recipient");
    if (final_recipient.empty()) continue;  // the per-message group, or junk
    ReportedRecipient r;
    r.address = AddressOf(final_recipient);
    r.original = AddressOf(FieldOf(groups[i], "Original-Recipient"));
    r.action = absl::AsciiStrToLower(FieldOf(groups[i], "Action"));
    r.status = FieldOf(groups[i], "Status");
    if (const size_t space = r.status.find_first_of(" \t("); space != std::string::npos) {
      r.status.resize(space);  // "5.1.1 (unknown user)"
    }
    r.diagnostic = WithoutType(FieldOf(groups[i], "Diagnostic-Code"));
    r.remote_mta = WithoutType(FieldOf(groups[i], "Remote-MTA"));
    report->recipients.push_back(std::move(r));
  }
}

void ReadFeedbackReport(absl::string_view text, InboundReport* report) {
  std::vector<Fields> groups = FieldGroups(text);
  if (groups.empty()) return;
  const Fields& f = groups[0];
  report->feedback_type = absl::AsciiStrToLower(FieldOf(f, "Feedback-Type"));
  report->user_agent = FieldOf(f, "User-Agent");
  report->source_ip = FieldOf(f, "Source-IP");
  report->original_mail_from = AddressOf(FieldOf(f, "Original-Mail-From"));
  for (const auto& [name, value] : f) {
    if (absl::EqualsIgnoreCase(name, "Original-Rcpt-To")) {
      report->original_rcpt_to.push_back(AddressOf(value));
    }
  }
}

// What the walk found.
struct Found {
  bool delivery_status = false;
  bool feedback_report = false;
  bool report = false;  // a multipart/report
};

void Walk(GMimeObject* object, int depth, InboundReport* report, Found* found) {
  if (object == nullptr || depth > kMaxDepth) return;
  if (GMIME_IS_MULTIPART(object)) {
    if (MimeType(object) == "multipart/report") found->report = true;
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    const int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; ++i) {
      Walk(g_mime_multipart_get_part(multipart, i), depth + 1, report, found);
    }
    return;
  }
  if (GMIME_IS_MESSAGE_PART(object)) {
    // The returned original (message/rfc822, message/global): its headers only.
    GMimeMessage* original = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
    if (original != nullptr && report->original_headers.empty()) {
      TakeHeaders(GMIME_OBJECT(original), report);
    }
    return;
  }
  if (!GMIME_IS_PART(object)) return;
  const std::string type = MimeType(object);
  if (type == "message/delivery-status" || type == "message/global-delivery-status") {
    found->delivery_status = true;
    ReadDeliveryStatus(ContentOf(GMIME_PART(object)), report);
  } else if (type == "message/feedback-report") {
    found->feedback_report = true;
    ReadFeedbackReport(ContentOf(GMIME_PART(object)), report);
  } else if ((type == "text/rfc822-headers" || type == "message/global-headers") &&
             report->original_headers.empty()) {
    TakeHeaderText(ContentOf(GMIME_PART(object)), report);
  }
}

}  // namespace

std::string InboundReport::OriginalHeader(absl::string_view name) const {
  for (const auto& [n, v] : original_headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

absl::string_view InboundKindName(InboundReport::Kind kind) {
  switch (kind) {
    case InboundReport::Kind::kDsn:
      return "dsn";
    case InboundReport::Kind::kFeedback:
      return "feedback";
    case InboundReport::Kind::kUnparsed:
      return "unparsed";
  }
  return "unparsed";
}

InboundReport ParseInboundReport(absl::string_view message) {
  InitGmimeOnce();
  InboundReport report;
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GPtr<GMimeMessage> parsed(g_mime_parser_construct_message(parser.get(), nullptr));
  if (parsed == nullptr) {
    report.unparsed_reason = "not a MIME message";
    return report;
  }
  Found found;
  Walk(g_mime_message_get_mime_part(parsed.get()), 0, &report, &found);
  if (found.feedback_report && !report.feedback_type.empty()) {
    report.kind = InboundReport::Kind::kFeedback;
  } else if (found.delivery_status && !report.recipients.empty()) {
    report.kind = InboundReport::Kind::kDsn;
  } else if (found.delivery_status) {
    report.unparsed_reason = "a delivery-status part without a recipient";
  } else if (found.feedback_report) {
    report.unparsed_reason = "a feedback report without a Feedback-Type";
  } else if (found.report) {
    report.unparsed_reason = "a multipart/report without a delivery-status or feedback part";
  } else {
    report.unparsed_reason = "not a delivery report or a feedback report";
  }
  return report;
}

}  // namespace volley::bounce
