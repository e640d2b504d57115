#include "engine/inject/bounce_intake.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "engine/base/logging.h"
#include "engine/bounce/inbound_report.h"
#include "engine/events/event.h"
#include "engine/smtp/command_parser.h"
#include "queue/encoding.h"

namespace volley::inject {

namespace {

// The record's reply. A report's Status may contradict its Diagnostic-Code ("550 ..." with
// 4.4.1): then the code alone, since a reply's enhanced code must have the code's class.
smtp::Reply ReplyOf(const bounce::InboundOutcome& out) {
  const std::optional<smtp::EnhancedCode> enhanced = smtp::ParseEnhancedCode(out.enhanced);
  const bool fits = enhanced.has_value() && enhanced->klass == out.code / 100;
  return smtp::MakeReply(out.code, fits ? out.enhanced : "", out.text);
}

}  // namespace

struct BounceIntake::Result {
  bounce::InboundReport report;
  std::vector<bounce::InboundOutcome> outcomes;
  // Per outcome: the original's meta when it is still in the spool.
  std::vector<std::optional<queue::MessageMeta>> originals;
  std::vector<bounce::BounceClass> classes;
  absl::Time now;
};

BounceIntake::Result BounceIntake::Process(const delivery::EngineContext& context,
                                           const std::vector<std::string>& recipients,
                                           const std::string& content) {
  Result result;
  result.now = context.clock->Now();
  result.report = bounce::ParseInboundReport(content);
  result.outcomes = bounce::MapInbound(result.report, recipients, context.verp);
  const config::BounceConfig& config = context.config->bounce;
  const bounce::BounceRules& rules =
      config.rules != nullptr ? *config.rules : bounce::BounceRules::Shipped();
  for (const bounce::InboundOutcome& out : result.outcomes) {
    std::optional<queue::MessageMeta> meta;
    if (std::optional<queue::MessageId> id = queue::ParseQueueId(out.queue_id)) {
      absl::StatusOr<queue::MessageMeta> read = context.spool->ReadMeta(*id);
      if (read.ok()) meta = *std::move(read);
    }
    const bounce::BounceClass klass =
        out.feedback ? bounce::BounceClass::kSpamRelated : rules.Classify(ReplyOf(out));
    result.classes.push_back(klass);
    // A report that is not about one of Volley's messages, or forged, suppresses nothing:
    // anyone can send mail to the bounce domain.
    if (context.suppressions != nullptr && !out.forged && !out.queue_id.empty() &&
        !out.recipient.empty()) {
      std::optional<bounce::SuppressionEntry> entry;
      if (out.feedback) {
        // A complaint is about the sender that mailed: that tenant's list (every tenant's
        // when the message has left the spool and its tenant is no longer known).
        entry.emplace();
        entry->recipient = out.recipient;
        entry->tenant = meta.has_value() ? meta->tenant : "";
        entry->reason = out.text;
        entry->source = "complaint";
        entry->SetLifetime(result.now, config.suppress_for);
      } else if (out.permanent) {
        entry =
            bounce::HardBounceSuppression(config.suppress_classes, klass, out.recipient,
                                          absl::StrCat(out.code, " ", out.enhanced, " ", out.text),
                                          "oob", result.now, config.suppress_for);
      }
      if (entry.has_value()) {
        if (absl::Status s = context.suppressions->Add(*std::move(entry)); !s.ok()) {
          LOG_EVERY_N_SEC(ERROR, 60) << "an inbound report's suppression was not stored: " << s;
        }
      }
    }
    result.originals.push_back(std::move(meta));
  }
  return result;
}

void BounceIntake::Take(std::vector<std::string> recipients, std::string content,
                        absl::AnyInvocable<void(smtp::Reply)> done) {
  DCHECK(thread_.InLoopThread());
  context_.io_pool->Run([this, alive = liveness_.weak(), shard = shard_, context = context_,
                         recipients = std::move(recipients), content = std::move(content),
                         done = std::move(done)]() mutable {
    auto result = std::make_shared<Result>(Process(context, recipients, content));
    shard->Post([this, alive, result, done = std::move(done)]() mutable {
      if (!alive.alive()) return;
      Emit(*result);
      done(smtp::MakeReply(250, "2.0.0", "OK report received"));
    });
  });
}

void BounceIntake::Emit(const Result& result) {
  const bounce::InboundReport& report = result.report;
  for (size_t i = 0; i < result.outcomes.size(); ++i) {
    const bounce::InboundOutcome& out = result.outcomes[i];
    const std::optional<queue::MessageMeta>& meta = result.originals[i];
    events::ReportDetail detail;
    detail.kind = bounce::InboundKindName(report.kind);
    detail.reason = report.unparsed_reason;
    detail.mapped_by = out.mapped_by;
    detail.forged = out.forged;
    detail.reporting_mta = report.reporting_mta;
    detail.feedback_type = report.feedback_type;
    detail.user_agent = report.user_agent;
    detail.source_ip = report.source_ip;
    const smtp::Reply reply = ReplyOf(out);
    const std::string domain = absl::AsciiStrToLower(smtp::DomainOf(out.recipient));
    events::RecipientEvent event;
    event.type = out.feedback ? events::EventType::kFeedback : events::EventType::kOob;
    event.queue_id = out.queue_id;
    event.recipient = out.recipient;
    event.domain = domain;
    event.reply = &reply;
    event.remote_reply = false;
    event.classification = result.classes[i];
    event.report = &detail;
    const std::string returned_message_id = report.OriginalHeader("Message-ID");
    event.message_id = meta.has_value() ? absl::string_view(meta->message_id)
                                        : absl::string_view(returned_message_id);
    if (meta.has_value()) {
      event.sender = meta->sender;
      event.tenant = meta->tenant;
      event.campaign = meta->campaign;
      event.priority = meta->priority;
      event.metadata = meta->metadata;
      event.created = meta->created;
    }
    event.timestamp = result.now;
    context_.events->OnEvent(event);
  }
}

}  // namespace volley::inject
