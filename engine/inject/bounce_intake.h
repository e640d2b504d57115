// Mail to the bounce domain ([bounce] verp_domain): asynchronous DSNs and ARF complaints that
// come back after delivery, on any SMTP listener, from any client. Each is read
// (bounce/inbound_report.h), mapped to its original (bounce/inbound_mapping.h), logged as OOB
// or Feedback records, and feeds the suppression list; it is never stored or relayed. Whatever
// arrives gets 250 once its records are out and its suppressions durable: an unreadable message
// is one OOB record marked unparsed, a forged one (bad VERP signature) suppresses nothing.
#ifndef VOLLEY_ENGINE_INJECT_BOUNCE_INTAKE_H_
#define VOLLEY_ENGINE_INJECT_BOUNCE_INTAKE_H_

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/base/liveness.h"
#include "engine/base/thread_checker.h"
#include "engine/bounce/inbound_mapping.h"
#include "engine/delivery/context.h"
#include "engine/runtime/shard.h"
#include "engine/smtp/reply.h"

namespace volley::inject {

// One per shard. All calls and callbacks on the shard's loop thread.
class BounceIntake {
 public:
  BounceIntake(Shard* shard, const delivery::EngineContext& context)
      : shard_(shard), context_(context) {}

  // Whether mail to `recipient` is taken in here (it is at the bounce domain).
  bool Takes(absl::string_view recipient) const {
    return context_.verp != nullptr && context_.verp->IsVerpDomain(recipient);
  }

  // Reads and records one message (off the loop), then `done` gets the reply.
  void Take(std::vector<std::string> recipients, std::string content,
            absl::AnyInvocable<void(smtp::Reply)> done);

 private:
  // What the I/O pool found, for the records written back on the loop.
  struct Result;
  static Result Process(const delivery::EngineContext& context,
                        const std::vector<std::string>& recipients, const std::string& content);
  void Emit(const Result& result);

  Shard* const shard_;
  const delivery::EngineContext context_;
  ThreadChecker thread_;
  Liveness liveness_;
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_BOUNCE_INTAKE_H_
