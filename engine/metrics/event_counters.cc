#include "engine/metrics/event_counters.h"

namespace volley::metrics {

void EventCounters::OnEvent(const events::RecipientEvent& event) {
  if (event.remote_reply) {
    const int klass = event.reply->code / 100;
    if (klass >= 2 && klass <= 5) metrics_->smtp_replies(klass).Add(shard_);
  }
  switch (event.type) {
    case events::EventType::kReception:
      return;
    case events::EventType::kDelivery:
      metrics_->deliveries(Outcome::kDelivered).Add(shard_);
      metrics_->delivery_latency().Observe(absl::ToDoubleSeconds(event.timestamp - event.created));
      return;
    case events::EventType::kTransientFailure:
      metrics_->deliveries(Outcome::kTransientFailure).Add(shard_);
      return;
    case events::EventType::kBounce:
      // An expired recipient is counted once, as expired.
      if (!event.expired) metrics_->deliveries(Outcome::kBounced).Add(shard_);
      return;
    case events::EventType::kExpiration:
      metrics_->deliveries(Outcome::kExpired).Add(shard_);
      return;
    case events::EventType::kSuppressed:
      metrics_->deliveries(Outcome::kSuppressed).Add(shard_);
      return;
    case events::EventType::kOob:
    case events::EventType::kFeedback:
    case events::EventType::kUnsubscribe:
      return;  // reports about deliveries already counted
  }
}

void EventCounters::OnMessageReceived(const events::MessageReceived& message) {
  metrics_->messages_received(message.listener).Add(shard_);
}

}  // namespace volley::metrics
