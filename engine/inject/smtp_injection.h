// The SMTP listener's side of injection: every session's handler, turning the ESMTP envelope
// and content into an InjectRequest for the shard's Injector, and its Status into a reply.
#ifndef VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_
#define VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_

#include <optional>
#include <string>
#include <utility>

#include "engine/base/thread_checker.h"
#include "engine/config/config.h"
#include "engine/inject/bounce_intake.h"
#include "engine/inject/injector.h"
#include "engine/message/control_headers.h"
#include "engine/smtp/server_session.h"

namespace volley::inject {

// One per shard, for every session of the shard's SMTP listeners. All calls on the shard's
// loop thread.
//
// At the end of the data it takes the control headers (message/control_headers.h) out of the
// content: their values, or the policy's defaults, become the message's tags. A bad value
// refuses the message with 550 5.6.0 naming the header and the value; nothing is stored and
// the session goes on.
class SmtpInjection final : public smtp::ServerSessionHandler {
 public:
  // `intake` (may be null: VERP off) takes the mail to the bounce domain: from any client, in
  // transactions of its own (a recipient of the other kind gets 452 4.5.3, to be sent again in
  // the next transaction), never stored or relayed.
  SmtpInjection(Injector* injector, message::ControlHeaderPolicy control_headers,
                BounceIntake* intake = nullptr)
      : injector_(injector), control_headers_(std::move(control_headers)), intake_(intake) {}

  std::optional<smtp::Reply> CheckMailFrom(const smtp::Envelope& envelope) override;
  std::optional<smtp::Reply> CheckRecipient(const smtp::Envelope& envelope,
                                            absl::string_view recipient) override;
  void OnMessage(smtp::Envelope envelope, std::string content,
                 absl::AnyInvocable<void(smtp::MessageResponse)> done) override;

 private:
  bool ForIntake(absl::string_view recipient) const {
    return intake_ != nullptr && intake_->Takes(recipient);
  }

  Injector* const injector_;
  const message::ControlHeaderPolicy control_headers_;
  BounceIntake* const intake_;
  ThreadChecker thread_;
};

// The control headers' names and defaults of [inject.smtp].
message::ControlHeaderPolicy ControlHeaderPolicyFrom(const config::SmtpInjectConfig& smtp);

// The request for a message received over SMTP: BDAT content (octets as sent) is made
// canonical with CRLF line endings, as DATA's unstuffing already is; the DSN parameters (RET,
// ENVID, NOTIFY, ORCPT) are taken from MAIL and RCPT. Pure.
InjectRequest RequestFromEnvelope(smtp::Envelope envelope, std::string content);

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_
