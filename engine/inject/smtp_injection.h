// The SMTP listener's side of injection: every session's handler, turning the ESMTP envelope
// and content into an InjectRequest for the shard's Injector, and its Status into a reply.
#ifndef VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_
#define VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_

#include <optional>
#include <string>

#include "engine/base/thread_checker.h"
#include "engine/inject/injector.h"
#include "engine/smtp/server_session.h"

namespace volley::inject {

// One per shard, for every session of the shard's SMTP listeners. All calls on the shard's
// loop thread.
class SmtpInjection final : public smtp::ServerSessionHandler {
 public:
  explicit SmtpInjection(Injector* injector) : injector_(injector) {}

  std::optional<smtp::Reply> CheckMailFrom(const smtp::Envelope& envelope) override;
  std::optional<smtp::Reply> CheckRecipient(const smtp::Envelope& envelope,
                                            absl::string_view recipient) override;
  void OnMessage(smtp::Envelope envelope, std::string content,
                 absl::AnyInvocable<void(smtp::MessageResponse)> done) override;

 private:
  Injector* const injector_;
  ThreadChecker thread_;
};

// The request for a message received over SMTP: BDAT content (octets as sent) is made
// canonical with CRLF line endings, as DATA's unstuffing already is; the DSN parameters (RET,
// ENVID, NOTIFY, ORCPT) are taken from MAIL and RCPT. Pure.
InjectRequest RequestFromEnvelope(smtp::Envelope envelope, std::string content);

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_
