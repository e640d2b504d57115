#include "engine/delivery/bounce_classifier.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace volley::delivery {
namespace {

absl::string_view FromEnhanced(const smtp::EnhancedCode& e) {
  switch (e.subject) {
    case 1:  // addressing
      switch (e.detail) {
        case 1:
        case 0:
        case 3:
        case 6:
          return "InvalidRecipient";
        case 2:
        case 10:
          return "BadDomain";
        case 7:
        case 8:
          return "InvalidSender";
        default:
          return "InvalidRecipient";
      }
    case 2:  // mailbox
      switch (e.detail) {
        case 1:
          return "InactiveMailbox";
        case 2:
          return "QuotaIssues";
        case 3:
          return "ContentRelated";
        default:
          return "InactiveMailbox";
      }
    case 3:  // mail system
      if (e.detail == 4) return "MessageTooLarge";
      return "BadConfiguration";
    case 4:  // network and routing (RFC 3463 3.5)
      switch (e.detail) {
        case 1:
          return "NoAnswerFromHost";
        case 3:  // directory server (DNS) failure
          return "DNSFailure";
        case 4:  // unable to route
        case 6:  // routing loop
          return "RoutingErrors";
        case 7:
          return "MessageExpired";
        default:
          return "BadConnection";
      }
    case 5:  // protocol
      if (e.detail == 3) return "TooManyRecipients";
      return "ProtocolErrors";
    case 6:  // content
      return "ContentRelated";
    case 7:  // security and policy
      switch (e.detail) {
        case 1:
          return "PolicyRelated";
        case 8:
          return "AuthenticationFailed";
        default:
          return "PolicyRelated";
      }
    default:
      return "Uncategorized";
  }
}

}  // namespace

absl::string_view ClassifyBounce(const smtp::Reply& reply) {
  const std::string text = absl::AsciiStrToLower(reply.Text());
  // Text rules that are more specific than the codes servers tend to send with them.
  if (absl::StrContains(text, "spam") || absl::StrContains(text, "blocklist") ||
      absl::StrContains(text, "blacklist") || absl::StrContains(text, "spamhaus")) {
    return "SpamBlock";
  }
  if (absl::StrContains(text, "virus")) return "VirusRelated";
  if (absl::StrContains(text, "relay") && absl::StrContains(text, "denied")) {
    return "RelayDenied";
  }
  if (reply.enhanced && !(reply.enhanced->subject == 0 && reply.enhanced->detail == 0)) {
    return FromEnhanced(*reply.enhanced);
  }
  if (absl::StrContains(text, "user unknown") || absl::StrContains(text, "no such user") ||
      absl::StrContains(text, "does not exist") || absl::StrContains(text, "unknown user")) {
    return "InvalidRecipient";
  }
  if (absl::StrContains(text, "quota") || absl::StrContains(text, "mailbox full")) {
    return "QuotaIssues";
  }
  if (reply.code == 421 || reply.code == 450 || reply.code == 451 || reply.code == 452) {
    return "TransientFailure";
  }
  return "Uncategorized";
}

}  // namespace volley::delivery
