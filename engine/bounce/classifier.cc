#include "engine/bounce/classifier.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace volley::bounce {
namespace {

BounceClass FromEnhanced(const smtp::EnhancedCode& e) {
  switch (e.subject) {
    case 1:  // addressing
      switch (e.detail) {
        case 1:
        case 0:
        case 3:
        case 6:
          return BounceClass::kInvalidRecipient;
        case 2:
        case 10:
          return BounceClass::kBadDomain;
        case 7:
        case 8:
          return BounceClass::kInvalidSender;
        default:
          return BounceClass::kInvalidRecipient;
      }
    case 2:  // mailbox
      switch (e.detail) {
        case 1:
          return BounceClass::kInactiveMailbox;
        case 2:
          return BounceClass::kQuotaIssues;
        case 3:
          return BounceClass::kContentRelated;
        default:
          return BounceClass::kInactiveMailbox;
      }
    case 3:  // mail system
      // 5.3.4 "message too big for system", as KumoMTA classifies it.
      if (e.detail == 4) return BounceClass::kQuotaIssues;
      return BounceClass::kBadConfiguration;
    case 4:  // network and routing (RFC 3463 3.5)
      switch (e.detail) {
        case 1:
          return BounceClass::kNoAnswerFromHost;
        case 3:  // directory server (DNS) failure
          return BounceClass::kDNSFailure;
        case 4:  // unable to route
        case 6:  // routing loop
          return BounceClass::kRoutingErrors;
        case 7:
          return BounceClass::kMessageExpired;
        default:
          return BounceClass::kBadConnection;
      }
    case 5:  // protocol
      if (e.detail == 3) return BounceClass::kTooManyRecipients;
      return BounceClass::kProtocolErrors;
    case 6:  // content
      return BounceClass::kContentRelated;
    case 7:  // security and policy
      switch (e.detail) {
        case 1:
          return BounceClass::kPolicyRelated;
        case 8:
          return BounceClass::kAuthenticationFailed;
        default:
          return BounceClass::kPolicyRelated;
      }
    default:
      return BounceClass::kUncategorized;
  }
}

}  // namespace

BounceClass Classify(const smtp::Reply& reply) {
  const std::string text = absl::AsciiStrToLower(reply.Text());
  // Text rules that are more specific than the codes servers tend to send with them.
  if (absl::StrContains(text, "spam") || absl::StrContains(text, "blocklist") ||
      absl::StrContains(text, "blacklist") || absl::StrContains(text, "spamhaus")) {
    return BounceClass::kSpamBlock;
  }
  if (absl::StrContains(text, "virus")) return BounceClass::kVirusRelated;
  if (absl::StrContains(text, "relay") && absl::StrContains(text, "denied")) {
    return BounceClass::kRelayDenied;
  }
  if (reply.enhanced && !(reply.enhanced->subject == 0 && reply.enhanced->detail == 0)) {
    return FromEnhanced(*reply.enhanced);
  }
  if (absl::StrContains(text, "user unknown") || absl::StrContains(text, "no such user") ||
      absl::StrContains(text, "does not exist") || absl::StrContains(text, "unknown user")) {
    return BounceClass::kInvalidRecipient;
  }
  if (absl::StrContains(text, "quota") || absl::StrContains(text, "mailbox full")) {
    return BounceClass::kQuotaIssues;
  }
  if (reply.code == 421 || reply.code == 450 || reply.code == 451 || reply.code == 452) {
    return BounceClass::kTransientFailure;
  }
  return BounceClass::kUncategorized;
}

}  // namespace volley::bounce
