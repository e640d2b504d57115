// The SMTP listener's side of injection: every session's handler, turning the ESMTP envelope
// and content into an InjectRequest for the shard's Injector, and its Status into a reply; and
// the listener's policy on top: who may relay, the per-user message rate, the bounce role, and
// backpressure when the spool falls behind.
#ifndef VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_
#define VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "engine/base/thread_checker.h"
#include "engine/config/config.h"
#include "engine/inject/bounce_intake.h"
#include "engine/inject/client_limits.h"
#include "engine/inject/injector.h"
#include "engine/message/control_headers.h"
#include "engine/runtime/deferred_calls.h"
#include "engine/smtp/server_session.h"

namespace volley::inject {

// One listener's policy (from its [inject.smtp] or [[inject.smtp.listener]] table).
struct SmtpInjectionOptions {
  std::string listener = "smtp";  // volley_messages_received_total{listener}
  // role = "bounce": only mail to the bounce domain (550 5.7.1 for other recipients).
  bool bounce_role = false;
  // auth = "required": only authenticated clients relay, whatever their address.
  bool auth_required = false;
  std::vector<config::Cidr> relay_networks;
  message::ControlHeaderPolicy control_headers;
  // Backpressure ([inject]; 0: none): from 80% of either bound the replies to the end of data
  // are held, longer the fuller it is (up to kMaxHold at the bound); at the bound a new MAIL
  // gets 421 4.3.2.
  int64_t max_spool_backlog = 0;
  int64_t max_queued_recipients = 0;
  // Per-user message rate (may be null, and is shared with the listener's other shards).
  ClientLimits* limits = nullptr;
  // Each refusal by reason ("backpressure", "message_rate_per_user", "relay_denied") and each
  // held reply ("backpressure_held"); on the loop thread. Optional.
  std::function<void(absl::string_view reason)> on_refusal;
};

// The options of a listener's config (limits and on_refusal are the caller's).
SmtpInjectionOptions SmtpInjectionOptionsFrom(const config::SmtpListenerConfig& listener,
                                              const config::InjectConfig& inject);

// One per shard and listener, for every session of that listener on the shard. All calls on
// the shard's loop thread.
//
// At the end of the data it takes the control headers (message/control_headers.h) out of the
// content: their values, or the policy's defaults, become the message's tags. A bad value
// refuses the message with 550 5.6.0 naming the header and the value; nothing is stored and
// the session goes on.
class SmtpInjection final : public smtp::ServerSessionHandler {
 public:
  static constexpr absl::Duration kMaxHold = absl::Seconds(1);

  // `intake` (may be null: VERP off) takes the mail to the bounce domain: from any client, in
  // transactions of its own (a recipient of the other kind gets 452 4.5.3, to be sent again in
  // the next transaction), never stored or relayed. `loop` (may be null: no holding) is the
  // shard's, where held replies wait.
  SmtpInjection(Injector* injector, SmtpInjectionOptions options, BounceIntake* intake = nullptr,
                uv_loop_t* loop = nullptr);

  std::optional<smtp::Reply> CheckMailFrom(const smtp::Envelope& envelope) override;
  std::optional<smtp::Reply> CheckRecipient(const smtp::Envelope& envelope,
                                            absl::string_view recipient) override;
  void OnMessage(smtp::Envelope envelope, std::string content,
                 absl::AnyInvocable<void(smtp::MessageResponse)> done) override;

  // How full the spool's backlog is against the bounds: 0 for empty, 1 at a bound.
  double BacklogLevel() const;
  // How long a reply is held at `level` (zero below 80%).
  static absl::Duration HoldFor(double level);

 private:
  bool ForIntake(absl::string_view recipient) const {
    return intake_ != nullptr && intake_->Takes(recipient);
  }
  bool MayRelay(const smtp::Envelope& envelope) const;
  void Refused(absl::string_view reason) const {
    if (options_.on_refusal) options_.on_refusal(reason);
  }

  Injector* const injector_;
  const SmtpInjectionOptions options_;
  BounceIntake* const intake_;
  std::unique_ptr<DeferredCalls> held_;  // replies held back by backpressure
  ThreadChecker thread_;
};

// The control headers' names and defaults of a listener.
message::ControlHeaderPolicy ControlHeaderPolicyFrom(const config::SmtpListenerConfig& smtp);

// The request for a message received over SMTP: BDAT content (octets as sent) is made
// canonical with CRLF line endings, as DATA's unstuffing already is; the DSN parameters (RET,
// ENVID, NOTIFY, ORCPT) are taken from MAIL and RCPT, and the client's TLS and AUTH from the
// session. Pure.
InjectRequest RequestFromEnvelope(smtp::Envelope envelope, std::string content);

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_SMTP_INJECTION_H_
