#include "engine/bounce/dsn_report.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/base/bytes.h"
#include "engine/message/header.h"
#include "engine/message/trace.h"

namespace volley::bounce {
namespace {

// Header lines are folded at white space past this length (RFC 5322 2.1.1's 78), and a value
// is cut at kMaxValue so that no line can pass the 998-octet limit, whatever a server replied.
constexpr size_t kFoldAt = 78;
constexpr size_t kMaxValue = 900;

// A value on one line: line breaks (a multi-line reply) become spaces.
std::string OneLine(absl::string_view value) {
  std::string line = absl::StrReplaceAll(value, {{"\r\n", " "}, {"\r", " "}, {"\n", " "}});
  if (line.size() > kMaxValue) line.resize(kMaxValue);
  return line;
}

// "Name: value" CRLF, folded before a space when a line grows past kFoldAt.
void AppendField(std::string* out, absl::string_view name, absl::string_view value) {
  const std::string text = OneLine(value);
  std::string line = absl::StrCat(name, ": ");
  size_t pos = 0;
  while (pos < text.size()) {
    size_t space = text.find(' ', pos + 1);
    if (space == std::string::npos) space = text.size();
    const absl::string_view word(text.data() + pos, space - pos);
    if (line.size() + word.size() > kFoldAt && pos > 0 && text[pos] == ' ') {
      absl::StrAppend(out, line, "\r\n");
      line.clear();  // the word's leading space starts the continuation line
    }
    line.append(word.data(), word.size());
    pos = space;
  }
  absl::StrAppend(out, line, "\r\n");
}

bool AnyNonAscii(const DsnReport& report) {
  if (HasEightBit(report.to)) return true;
  return std::any_of(report.recipients.begin(), report.recipients.end(),
                     [](const DsnRecipient& r) { return HasEightBit(r.address); });
}

// RFC 3464 2.1.2 address types: rfc822, or RFC 6533's utf-8 for an internationalized address.
std::string TypedAddress(absl::string_view address) {
  return absl::StrCat(HasEightBit(address) ? "utf-8" : "rfc822", "; ", address);
}

// The gravest action decides the subject: a failure, else a delay, else a relay.
DsnAction Gravest(const std::vector<DsnRecipient>& recipients) {
  DsnAction gravest = DsnAction::kRelayed;
  for (const DsnRecipient& r : recipients) {
    if (r.action == DsnAction::kFailed) return DsnAction::kFailed;
    if (r.action == DsnAction::kDelayed) gravest = DsnAction::kDelayed;
  }
  return gravest;
}

absl::string_view SubjectFor(DsnAction action) {
  switch (action) {
    case DsnAction::kFailed:
      return "Undelivered Mail Returned to Sender";
    case DsnAction::kDelayed:
      return "Delayed Mail (still being retried)";
    case DsnAction::kRelayed:
      return "Relayed Mail Delivery Report";
  }
  return "";
}

std::string HumanPart(const DsnReport& report, DsnAction gravest) {
  std::string text =
      absl::StrCat("This is the mail system at host ", report.reporting_mta, ".\r\n\r\n");
  switch (gravest) {
    case DsnAction::kFailed:
      absl::StrAppend(&text,
                      "Your message could not be delivered to one or more recipients.\r\n"
                      "It is attached below (or its header, if only that was asked for).\r\n");
      break;
    case DsnAction::kDelayed:
      absl::StrAppend(&text,
                      "Your message could not be delivered yet to one or more recipients.\r\n"
                      "It will be tried again");
      if (report.will_retry_until != absl::InfinitePast()) {
        absl::StrAppend(&text, " until ", message::Rfc5322Date(report.will_retry_until));
      }
      absl::StrAppend(&text, ". You do not need to send it again.\r\n");
      break;
    case DsnAction::kRelayed:
      absl::StrAppend(&text,
                      "Your message was handed to a server that does not report delivery\r\n"
                      "status: no further notice of its delivery will come.\r\n");
      break;
  }
  for (const DsnRecipient& r : report.recipients) {
    absl::StrAppend(&text, "\r\n<", r.address, "> (", DsnActionName(r.action), ")");
    if (!r.explanation.empty()) absl::StrAppend(&text, ":\r\n    ", OneLine(r.explanation));
    absl::StrAppend(&text, "\r\n");
  }
  return text;
}

std::string StatusPart(const DsnReport& report) {
  std::string part;
  AppendField(&part, "Reporting-MTA", absl::StrCat("dns; ", report.reporting_mta));
  AppendField(&part, "X-Volley-Queue-ID", report.queue_id);
  if (!report.envid.empty()) {
    AppendField(&part, "Original-Envelope-Id", DecodeXtext(report.envid));
  }
  AppendField(&part, "Arrival-Date", message::Rfc5322Date(report.arrival));
  for (const DsnRecipient& r : report.recipients) {
    absl::StrAppend(&part, "\r\n");
    AppendField(&part, "Final-Recipient", TypedAddress(r.address));
    if (const size_t semi = r.orcpt.find(';'); semi != std::string::npos) {
      // addr-type ";" xtext, decoded (RFC 3461 4.2).
      AppendField(
          &part, "Original-Recipient",
          absl::StrCat(r.orcpt.substr(0, semi), "; ", DecodeXtext(r.orcpt.substr(semi + 1))));
    }
    AppendField(&part, "Action", DsnActionName(r.action));
    AppendField(&part, "Status", r.status);
    if (!r.remote_mta.empty())
      AppendField(&part, "Remote-MTA", absl::StrCat("dns; ", r.remote_mta));
    if (!r.diagnostic.empty()) {
      AppendField(&part, "Diagnostic-Code", absl::StrCat("smtp; ", r.diagnostic));
    }
    if (r.last_attempt != absl::InfinitePast()) {
      AppendField(&part, "Last-Attempt-Date", message::Rfc5322Date(r.last_attempt));
    }
    if (r.action == DsnAction::kDelayed && report.will_retry_until != absl::InfinitePast()) {
      AppendField(&part, "Will-Retry-Until", message::Rfc5322Date(report.will_retry_until));
    }
  }
  return part;
}

// The original's header section, without the empty line that ends it.
absl::string_view HeaderSectionOf(absl::string_view message) {
  message::HeaderReader reader(message);
  message::HeaderField field;
  size_t end = 0;
  while (reader.Next(&field)) {
    end = static_cast<size_t>(field.raw.data() + field.raw.size() - message.data());
  }
  return message.substr(0, end);
}

// A boundary that no line of the original holds.
std::string BoundaryFor(const DsnReport& report) {
  std::string boundary = absl::StrCat("=_volley_dsn_", report.queue_id);
  for (int n = 1; report.original.find(boundary) != absl::string_view::npos; ++n) {
    boundary = absl::StrCat("=_volley_dsn_", report.queue_id, "_", n);
  }
  return boundary;
}

void AppendWithCrlf(std::string* out, absl::string_view text) {
  out->append(text.data(), text.size());
  if (!text.empty() && text.back() != '\n') out->append("\r\n");
}

}  // namespace

absl::string_view DsnActionName(DsnAction action) {
  switch (action) {
    case DsnAction::kFailed:
      return "failed";
    case DsnAction::kDelayed:
      return "delayed";
    case DsnAction::kRelayed:
      return "relayed";
  }
  return "failed";
}

std::string DecodeXtext(absl::string_view xtext) {
  return DecodeHexEscapes(xtext).value_or(std::string(xtext));
}

std::string BuildDsn(const DsnReport& report) {
  const DsnAction gravest = Gravest(report.recipients);
  const bool global = AnyNonAscii(report);
  const std::string boundary = BoundaryFor(report);
  std::string out;
  out.reserve(2048 + (report.return_full ? report.original.size() : 4096));
  AppendField(&out, "From",
              absl::StrCat("Mail Delivery System <MAILER-DAEMON@", report.reporting_mta, ">"));
  AppendField(&out, "To", absl::StrCat("<", report.to, ">"));
  AppendField(&out, "Subject", SubjectFor(gravest));
  AppendField(&out, "Date", message::Rfc5322Date(report.now));
  AppendField(&out, "Auto-Submitted", "auto-replied");
  AppendField(&out, "MIME-Version", "1.0");
  absl::StrAppend(&out, "Content-Type: multipart/report; report-type=delivery-status;\r\n",
                  "\tboundary=\"", boundary, "\"\r\n\r\n",
                  "This is a MIME-encapsulated message.\r\n\r\n");

  absl::StrAppend(&out, "--", boundary, "\r\n", "Content-Description: Notification\r\n",
                  "Content-Type: text/plain; charset=", global ? "utf-8" : "us-ascii", "\r\n\r\n",
                  HumanPart(report, gravest), "\r\n");

  absl::StrAppend(&out, "--", boundary, "\r\n", "Content-Description: Delivery report\r\n",
                  "Content-Type: message/", global ? "global-delivery-status" : "delivery-status",
                  "\r\n\r\n", StatusPart(report), "\r\n");

  absl::StrAppend(&out, "--", boundary, "\r\n");
  if (report.return_full) {
    absl::StrAppend(&out, "Content-Description: Undelivered Message\r\n",
                    "Content-Type: message/rfc822\r\n\r\n");
    AppendWithCrlf(&out, report.original);
  } else {
    absl::StrAppend(&out, "Content-Description: Undelivered Message Headers\r\n",
                    "Content-Type: text/rfc822-headers\r\n\r\n");
    AppendWithCrlf(&out, HeaderSectionOf(report.original));
  }
  absl::StrAppend(&out, "\r\n--", boundary, "--\r\n");
  return out;
}

}  // namespace volley::bounce
