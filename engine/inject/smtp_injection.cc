#include "engine/inject/smtp_injection.h"

#include <algorithm>
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
  request.auth_user = std::move(envelope.auth_user);
  if (envelope.tls) {
    request.tls_version = std::move(envelope.tls_version);
    request.tls_cipher = std::move(envelope.tls_cipher);
  }
  return request;
}

SmtpInjectionOptions SmtpInjectionOptionsFrom(const config::SmtpListenerConfig& listener,
                                              const config::InjectConfig& inject) {
  SmtpInjectionOptions options;
  options.listener = listener.name;
  options.bounce_role = listener.role == config::SmtpListenerRole::kBounce;
  options.auth_required = listener.auth == config::SmtpListenerAuth::kRequired;
  options.relay_networks = listener.relay_networks;
  options.control_headers = ControlHeaderPolicyFrom(listener);
  options.max_spool_backlog = inject.max_spool_backlog;
  options.max_queued_recipients = inject.max_queued_recipients;
  return options;
}

SmtpInjection::SmtpInjection(Injector* injector, SmtpInjectionOptions options, BounceIntake* intake,
                             uv_loop_t* loop)
    : injector_(injector), options_(std::move(options)), intake_(intake) {
  if (loop != nullptr) held_ = std::make_unique<DeferredCalls>(loop);
}

double SmtpInjection::BacklogLevel() const {
  double level = 0;
  if (options_.max_spool_backlog > 0) {
    level = static_cast<double>(injector_->spool_backlog()) /
            static_cast<double>(options_.max_spool_backlog);
  }
  if (options_.max_queued_recipients > 0) {
    level = std::max(level, static_cast<double>(injector_->queued_recipients()) /
                                static_cast<double>(options_.max_queued_recipients));
  }
  return level;
}

absl::Duration SmtpInjection::HoldFor(double level) {
  constexpr double kFrom = 0.8;
  if (level < kFrom) return absl::ZeroDuration();
  return kMaxHold * std::min(1.0, (level - kFrom) / (1.0 - kFrom));
}

bool SmtpInjection::MayRelay(const smtp::Envelope& envelope) const {
  if (!envelope.auth_user.empty()) return true;
  if (options_.auth_required) return false;
  return std::any_of(
      options_.relay_networks.begin(), options_.relay_networks.end(),
      [&](const config::Cidr& network) { return network.Contains(envelope.peer_address); });
}

std::optional<smtp::Reply> SmtpInjection::CheckMailFrom(const smtp::Envelope& envelope) {
  DCHECK(thread_.InLoopThread());
  absl::Status status = injector_->CheckSender();
  if (!status.ok()) return SmtpReplyFor(status);
  if (BacklogLevel() >= 1.0) {
    Refused("backpressure");
    return smtp::MakeLocalReply(smtp::LocalReply::kBackpressure, injector_->hostname());
  }
  if (options_.limits != nullptr && !envelope.auth_user.empty() &&
      !options_.limits->TakeMessage(envelope.auth_user, absl::Now())) {
    Refused("message_rate_per_user");
    return smtp::MakeLocalReply(smtp::LocalReply::kUserRateLimit, envelope.auth_user);
  }
  return std::nullopt;
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
  if (options_.bounce_role) {
    return smtp::MakeReply(550, "5.7.1", "this server takes only mail to the bounce domain");
  }
  absl::Status status =
      injector_->CheckRecipient(MayRelay(envelope), envelope.peer_address, recipient);
  if (status.ok()) return std::nullopt;
  if (absl::IsPermissionDenied(status)) Refused("relay_denied");
  return SmtpReplyFor(status);
}

message::ControlHeaderPolicy ControlHeaderPolicyFrom(const config::SmtpListenerConfig& smtp) {
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
  request.listener = options_.listener;
  absl::StatusOr<message::MessageTags> tags =
      message::ExtractControlHeaders(options_.control_headers, &request.content);
  if (!tags.ok()) {
    done(smtp::MakeLocalReply(smtp::LocalReply::kBadControlHeader, tags.status().message()));
    return;
  }
  request.tags = *std::move(tags);
  injector_->Inject(std::move(request), [this, done = std::move(done)](
                                            absl::StatusOr<std::string> queue_id) mutable {
    smtp::Reply reply = queue_id.ok() ? smtp::MakeLocalReply(smtp::LocalReply::kQueued, *queue_id)
                                      : SmtpReplyFor(queue_id.status());
    // Backpressure: a client that waits for its reply sends its next message later.
    const absl::Duration hold = held_ != nullptr ? HoldFor(BacklogLevel()) : absl::ZeroDuration();
    if (hold <= absl::ZeroDuration()) {
      done(std::move(reply));
      return;
    }
    Refused("backpressure_held");
    held_->RunAfter(hold, [done = std::move(done), reply = std::move(reply)]() mutable {
      done(std::move(reply));
    });
  });
}

}  // namespace volley::inject
