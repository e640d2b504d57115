// The one place where a recipient's outcome becomes an event (delivery log, metrics) and a
// spool change: delivered, bounced, deferred for a retry, or expired.
#ifndef VOLLEY_ENGINE_DELIVERY_OUTCOME_RECORDER_H_
#define VOLLEY_ENGINE_DELIVERY_OUTCOME_RECORDER_H_

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "engine/base/thread_checker.h"
#include "engine/bounce/bounce_class.h"
#include "engine/bounce/bounce_rules.h"
#include "engine/bounce/suppression_list.h"
#include "engine/delivery/delivery_notices.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/delivery/retry_policy.h"
#include "engine/events/event.h"
#include "engine/smtp/client_session.h"
#include "engine/smtp/reply.h"
#include "queue/spool_writer.h"

namespace volley::delivery {

// Every outcome ends the recipient's attempt: its attempt count goes up (an attempt is a
// transaction the recipient was in, or a local verdict on it), one or two events are emitted in
// the order a reader of the log expects, and the spool learns the new state. All calls on the
// owning shard's loop.
class OutcomeRecorder {
 public:
  struct Options {
    events::EventSink* events = nullptr;
    queue::SpoolWriter* writer = nullptr;
    Clock* clock = nullptr;
    RetryPolicy* retry = nullptr;
    // The classification rules ([bounce] rules on the shipped ones; null: the shipped ones).
    const bounce::BounceRules* bounce_rules = nullptr;
    // A hard bounce of one of `suppress_classes` goes to `suppress` (null: nowhere), as an entry
    // for every tenant that lasts `suppress_for`.
    std::function<void(bounce::SuppressionEntry)> suppress;
    std::vector<bounce::BounceClass> suppress_classes;
    absl::Duration suppress_for = absl::InfiniteDuration();
    // Retries due within this stay in memory (`keep`); later ones are let go and read back from
    // the spool by the writer's loader (queue/due_loader.h).
    absl::Duration memory_horizon = absl::Minutes(1);
    // Takes a recipient whose retry stays in memory (the shard's Scheduler).
    absl::AnyInvocable<void(RecipientPtr)> keep;
    // Delivery notices to the sender (delivery_notices.h): when one is wanted, `notify` gets it
    // and, for a failure or a relay, the recipient's removal from the spool, which then goes
    // with the notice (null: no notices).
    NoticePolicy notices;
    std::function<void(NoticeItem)> notify;
  };

  explicit OutcomeRecorder(Options options) : options_(std::move(options)) {
    if (options_.bounce_rules == nullptr) options_.bounce_rules = &bounce::BounceRules::Shipped();
  }

  // The bounce class of a failure's reply, by the configured rules.
  bounce::BounceClass Classify(const smtp::Reply& reply) const {
    return options_.bounce_rules->Classify(reply);
  }

  // A server's reply (or a reply made up for a failed session) decided the recipient's
  // transaction: 2xx delivered, 5xx bounced (classified), anything else deferred.
  void Record(RecipientPtr recipient, const smtp::RecipientOutcome& outcome,
              const AttemptInfo& attempt);
  // A permanent failure decided locally (DNS, a greeting refused by every host).
  void Bounce(RecipientPtr recipient, const smtp::Reply& reply, bounce::BounceClass classification,
              const AttemptInfo& attempt);
  // A transient failure: retried after the policy's delay, or expired when that would be past
  // max_age. `remote_reply`: the reply came from the server.
  void Defer(RecipientPtr recipient, const smtp::Reply& reply, std::optional<std::string> command,
             const AttemptInfo& attempt, bounce::BounceClass classification,
             bool remote_reply = false);
  // Expires the recipient when its message is past max_age (and returns true), in any state:
  // scheduled, ready or about to be sent.
  bool ExpireIfDue(RecipientPtr& recipient);

 private:
  // Puts a hard-bounced recipient on the suppression list when its class says so.
  void MaybeSuppress(const QueuedRecipient& recipient, const smtp::Reply& reply,
                     bounce::BounceClass classification);
  // An Expiration record, then a MessageExpired bounce.
  void Expire(RecipientPtr recipient, const smtp::Reply& reply, std::optional<std::string> command,
              const AttemptInfo& attempt, bool remote_reply);
  void Emit(events::EventType type, const QueuedRecipient& r, const smtp::Reply& reply,
            bool remote_reply, const std::optional<std::string>& command,
            const AttemptInfo& attempt, std::optional<bounce::BounceClass> classification,
            bool expired = false);
  // The recipient is finished: removed from the spool, or, when its sender wants a notice of
  // `action`, handed with `notice()` to the notice that removes it.
  void Finish(const QueuedRecipient& r, bounce::DsnAction action,
              absl::FunctionRef<bounce::DsnRecipient()> notice);
  // Hands the recipient's notice to `notify`, with its spool entry when the notice `completes`
  // it (a failure, a relay).
  void SendNotice(const QueuedRecipient& r, bounce::DsnRecipient notice, bool completes);
  // A delay notice, once per recipient, when its message has waited [delivery]
  // delay_dsn_after and the sender wants one.
  void MaybeNotifyDelay(QueuedRecipient& recipient, const smtp::Reply& reply, bool remote,
                        const AttemptInfo& attempt, absl::Time now);
  // The recipient's part of a notice.
  bounce::DsnRecipient NoticeRecipient(const QueuedRecipient& r, bounce::DsnAction action,
                                       const smtp::Reply& reply, bool remote,
                                       const AttemptInfo& attempt) const;
  void Done(const QueuedRecipient& r);

  Options options_;
  ThreadChecker thread_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_OUTCOME_RECORDER_H_
