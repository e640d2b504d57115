#include "engine/inject/smtp_injection.h"

#include <utility>

#include "engine/base/logging.h"
#include "engine/inject/smtp_status.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/local_replies.h"

namespace volley::inject {

InjectRequest RequestFromEnvelope(smtp::Envelope envelope, std::string content) {
  InjectRequest request;
  request.listener = "smtp";
  if (envelope.bdat) {
    std::string canonical;
    smtp::NormalizeCrlf(content, &canonical);
    request.content = std::move(canonical);
  } else {
    request.content = std::move(content);
  }
  request.sender = std::move(envelope.mail_from);
  request.smtputf8 = envelope.smtputf8_requested;
  for (auto& [keyword, value] : envelope.mail_params) {
    if (keyword == "RET") request.dsn_ret = value;
    if (keyword == "ENVID") request.dsn_envid = value;
  }
  request.recipients.reserve(envelope.recipients.size());
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    InjectRecipient recipient;
    recipient.address = std::move(envelope.recipients[i]);
    if (i < envelope.recipient_params.size()) {
      for (const auto& [keyword, value] : envelope.recipient_params[i]) {
        if (keyword == "NOTIFY") recipient.dsn_notify = value;
        if (keyword == "ORCPT") recipient.dsn_orcpt = value;
      }
    }
    request.recipients.push_back(std::move(recipient));
  }
  request.peer_address = std::move(envelope.peer_address);
  request.helo = std::move(envelope.helo);
  request.esmtp = envelope.esmtp;
  return request;
}

std::optional<smtp::Reply> SmtpInjection::CheckMailFrom(const smtp::Envelope&) {
  DCHECK(thread_.InLoopThread());
  absl::Status status = injector_->CheckSender();
  if (status.ok()) return std::nullopt;
  return SmtpReplyFor(status);
}

std::optional<smtp::Reply> SmtpInjection::CheckRecipient(const smtp::Envelope& envelope,
                                                         absl::string_view recipient) {
  DCHECK(thread_.InLoopThread());
  const bool report = ForIntake(recipient);
  if (!envelope.recipients.empty() && ForIntake(envelope.recipients.front()) != report) {
    return smtp::MakeReply(452, "4.5.3",
                           "mail to the bounce domain goes in a transaction of its own");
  }
  if (report) return std::nullopt;  // reports come from anywhere
  absl::Status status = injector_->CheckRecipient(envelope.peer_address, recipient);
  if (status.ok()) return std::nullopt;
  return SmtpReplyFor(status);
}

message::ControlHeaderPolicy ControlHeaderPolicyFrom(const config::SmtpInjectConfig& smtp) {
  message::ControlHeaderPolicy policy;
  policy.tenant_header = smtp.tenant_header;
  policy.campaign_header = smtp.campaign_header;
  policy.priority_header = smtp.priority_header;
  policy.defaults.tenant = smtp.default_tenant;
  policy.defaults.campaign = smtp.default_campaign;
  policy.defaults.priority = smtp.default_priority;
  return policy;
}

void SmtpInjection::OnMessage(smtp::Envelope envelope, std::string content,
                              absl::AnyInvocable<void(smtp::MessageResponse)> done) {
  DCHECK(thread_.InLoopThread());
  if (!envelope.recipients.empty() && ForIntake(envelope.recipients.front())) {
    std::vector<std::string> recipients = std::move(envelope.recipients);
    intake_->Take(std::move(recipients), std::move(content),
                  [done = std::move(done)](smtp::Reply reply) mutable { done(std::move(reply)); });
    return;
  }
  InjectRequest request = RequestFromEnvelope(std::move(envelope), std::move(content));
  absl::StatusOr<message::MessageTags> tags =
      message::ExtractControlHeaders(control_headers_, &request.content);
  if (!tags.ok()) {
    done(smtp::MakeLocalReply(smtp::LocalReply::kBadControlHeader, tags.status().message()));
    return;
  }
  request.tags = *std::move(tags);
  injector_->Inject(std::move(request),
                    [done = std::move(done)](absl::StatusOr<std::string> queue_id) mutable {
                      if (!queue_id.ok()) {
                        done(SmtpReplyFor(queue_id.status()));
                        return;
                      }
                      done(smtp::MakeLocalReply(smtp::LocalReply::kQueued, *queue_id));
                    });
}

}  // namespace volley::inject
