// Bounce classes: KumoMTA's set, so that a platform reading Volley's log classifies as it
// would reading KumoMTA's (../../docs/configuration.md and the README list them).
#ifndef VOLLEY_ENGINE_BOUNCE_BOUNCE_CLASS_H_
#define VOLLEY_ENGINE_BOUNCE_BOUNCE_CLASS_H_

#include <cstddef>
#include <optional>

#include "absl/strings/string_view.h"

namespace volley::bounce {

enum class BounceClass {
  kInvalidRecipient,
  kDNSFailure,
  kSpamBlock,
  kSpamContent,
  kProhibitedAttachment,
  kRelayDenied,
  kAutoReply,
  kTransientFailure,
  kSubscribe,
  kUnsubscribe,
  kChallengeResponse,
  kBadConfiguration,
  kBadConnection,
  kBadDomain,
  kContentRelated,
  kInactiveMailbox,
  kInvalidSender,
  kMessageExpired,
  kNoAnswerFromHost,
  kPolicyRelated,
  kProtocolErrors,
  kQuotaIssues,
  kRelayingIssues,
  kRoutingErrors,
  kSpamRelated,
  kVirusRelated,
  kAuthenticationFailed,
  kTooManyRecipients,
  kUncategorized,
};

inline constexpr size_t kBounceClassCount = 29;

// The name as log records and configuration write it: "InvalidRecipient", ...
absl::string_view BounceClassName(BounceClass bounce_class);
// The class of a name (exact, case-sensitive, as KumoMTA's), or nullopt.
std::optional<BounceClass> ParseBounceClass(absl::string_view name);

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_BOUNCE_CLASS_H_
