#include "engine/events/event.h"

namespace volley::events {

absl::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kReception:
      return "Reception";
    case EventType::kDelivery:
      return "Delivery";
    case EventType::kTransientFailure:
      return "TransientFailure";
    case EventType::kBounce:
      return "Bounce";
    case EventType::kExpiration:
      return "Expiration";
    case EventType::kSuppressed:
      return "Suppressed";
    case EventType::kOob:
      return "OOB";
    case EventType::kFeedback:
      return "Feedback";
    case EventType::kUnsubscribe:
      return "Unsubscribe";
  }
  return "Unknown";
}

}  // namespace volley::events
