#include "engine/bounce/bounce_class.h"

namespace volley::bounce {
namespace {

// In the enum's order.
constexpr absl::string_view kNames[kBounceClassCount] = {
    "InvalidRecipient",
    "DNSFailure",
    "SpamBlock",
    "SpamContent",
    "ProhibitedAttachment",
    "RelayDenied",
    "AutoReply",
    "TransientFailure",
    "Subscribe",
    "Unsubscribe",
    "ChallengeResponse",
    "BadConfiguration",
    "BadConnection",
    "BadDomain",
    "ContentRelated",
    "InactiveMailbox",
    "InvalidSender",
    "MessageExpired",
    "NoAnswerFromHost",
    "PolicyRelated",
    "ProtocolErrors",
    "QuotaIssues",
    "RelayingIssues",
    "RoutingErrors",
    "SpamRelated",
    "VirusRelated",
    "AuthenticationFailed",
    "TooManyRecipients",
    "Uncategorized",
};

static_assert(static_cast<size_t>(BounceClass::kUncategorized) + 1 == kBounceClassCount);

}  // namespace

absl::string_view BounceClassName(BounceClass bounce_class) {
  return kNames[static_cast<size_t>(bounce_class)];
}

std::optional<BounceClass> ParseBounceClass(absl::string_view name) {
  for (size_t i = 0; i < kBounceClassCount; ++i) {
    if (kNames[i] == name) return static_cast<BounceClass>(i);
  }
  return std::nullopt;
}

}  // namespace volley::bounce
