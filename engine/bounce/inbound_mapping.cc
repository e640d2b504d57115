#include "engine/bounce/inbound_mapping.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "queue/encoding.h"

namespace volley::bounce {
namespace {

// A Volley queue id, as a server may have written it (any case): lower-cased, or nullopt.
std::optional<std::string> QueueIdOf(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (!queue::ParseQueueId(lower).has_value()) return std::nullopt;
  return lower;
}

// "<0123456789abcdef@host>" -> the queue id.
std::optional<std::string> QueueIdOfMessageId(absl::string_view message_id) {
  absl::ConsumePrefix(&message_id, "<");
  const size_t at = message_id.find('@');
  if (at == absl::string_view::npos) return std::nullopt;
  return QueueIdOf(message_id.substr(0, at));
}

// Volley's Received header: "by HOST (Volley) ... id QUEUEID".
std::optional<std::string> QueueIdOfReceived(const InboundReport& report) {
  for (const auto& [name, value] : report.original_headers) {
    if (!absl::EqualsIgnoreCase(name, "Received") || !absl::StrContains(value, "(Volley)")) {
      continue;
    }
    const size_t id = value.find(" id ");
    if (id == std::string::npos) continue;
    if (auto queue_id = QueueIdOf(absl::string_view(value).substr(id + 4, 16))) return queue_id;
  }
  return std::nullopt;
}

struct Origin {
  std::string queue_id;
  std::string recipient;  // from VERP
  std::string mapped_by;
  bool forged = false;
};

Origin FindOrigin(const InboundReport& report, const std::vector<std::string>& envelope,
                  const VerpCodec* verp) {
  Origin origin;
  if (verp != nullptr) {
    std::vector<std::string> candidates = envelope;
    // A complaint names the VERP return path of the message complained about.
    candidates.push_back(report.original_mail_from);
    const std::string header = report.OriginalHeader("Return-Path");
    absl::string_view return_path = absl::StripAsciiWhitespace(header);
    absl::ConsumePrefix(&return_path, "<");
    absl::ConsumeSuffix(&return_path, ">");
    candidates.emplace_back(return_path);
    for (const std::string& address : candidates) {
      absl::StatusOr<VerpAddress> decoded = verp->Decode(address);
      if (decoded.ok()) {
        origin.queue_id = decoded->queue_id;
        origin.recipient = decoded->recipient;
        origin.mapped_by = "verp";
        return origin;
      }
      if (absl::IsPermissionDenied(decoded.status())) origin.forged = true;
    }
    if (origin.forged) return origin;  // trust nothing else a forged report says
  }
  if (auto envid = QueueIdOf(report.original_envelope_id)) {
    origin.queue_id = *envid;
    origin.mapped_by = "envid";
  } else if (auto id = QueueIdOfMessageId(report.OriginalHeader("Message-ID"))) {
    origin.queue_id = *id;
    origin.mapped_by = "message-id";
  } else if (auto received = QueueIdOfReceived(report)) {
    origin.queue_id = *received;
    origin.mapped_by = "received";
  }
  return origin;
}

// The record's reply for a DSN recipient.
void SetReply(const ReportedRecipient& r, InboundOutcome* out) {
  int code = 0;
  absl::string_view diagnostic = r.diagnostic;
  if (diagnostic.size() >= 3 && absl::SimpleAtoi(diagnostic.substr(0, 3), &code) && code >= 200 &&
      code < 600) {
    out->code = code;
    out->text = std::string(absl::StripAsciiWhitespace(diagnostic.substr(3)));
    // "550-5.1.1 text" / "550 5.1.1 text": the enhanced code is the Status anyway.
    absl::string_view text = out->text;
    if (absl::ConsumePrefix(&text, r.status))
      out->text = std::string(absl::StripLeadingAsciiWhitespace(text));
  } else {
    out->code = absl::StartsWith(r.status, "5") ? 550 : absl::StartsWith(r.status, "2") ? 250 : 450;
    out->text = r.diagnostic.empty() ? absl::StrCat("Action: ", r.action) : r.diagnostic;
  }
  out->enhanced = r.status;
  out->permanent = r.action == "failed" && absl::StartsWith(r.status, "5");
}

}  // namespace

std::vector<InboundOutcome> MapInbound(const InboundReport& report,
                                       const std::vector<std::string>& envelope_recipients,
                                       const VerpCodec* verp) {
  const Origin origin = FindOrigin(report, envelope_recipients, verp);
  auto base = [&] {
    InboundOutcome out;
    out.queue_id = origin.queue_id;
    out.recipient = origin.recipient;
    out.mapped_by = origin.mapped_by;
    out.forged = origin.forged;
    return out;
  };
  std::vector<InboundOutcome> outcomes;
  switch (report.kind) {
    case InboundReport::Kind::kDsn:
      for (const ReportedRecipient& r : report.recipients) {
        if (r.action == "delivered" || r.action == "relayed" || r.action == "expanded") continue;
        InboundOutcome out = base();
        // VERP names the recipient the message was sent to (the report's may be a forward).
        if (out.recipient.empty() && !origin.forged) {
          out.recipient = r.original.empty() ? r.address : r.original;
        }
        SetReply(r, &out);
        outcomes.push_back(std::move(out));
      }
      break;
    case InboundReport::Kind::kFeedback: {
      InboundOutcome out = base();
      out.feedback = true;
      if (out.recipient.empty() && !origin.forged) {
        out.recipient = !report.original_rcpt_to.empty() ? report.original_rcpt_to.front()
                                                         : report.OriginalHeader("To");
      }
      out.code = 550;
      out.enhanced = "";
      out.text = absl::StrCat("Feedback-Type: ", report.feedback_type);
      outcomes.push_back(std::move(out));
      break;
    }
    case InboundReport::Kind::kUnparsed: {
      InboundOutcome out = base();
      out.code = 550;
      out.text = absl::StrCat("unparsed: ", report.unparsed_reason);
      outcomes.push_back(std::move(out));
      break;
    }
  }
  return outcomes;
}

}  // namespace volley::bounce
