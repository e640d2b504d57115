// The metrics that follow from events: volley_messages_received_total,
// volley_deliveries_total, volley_smtp_replies_total and volley_delivery_latency_seconds.
#ifndef VOLLEY_ENGINE_METRICS_EVENT_COUNTERS_H_
#define VOLLEY_ENGINE_METRICS_EVENT_COUNTERS_H_

#include "engine/events/event.h"
#include "engine/metrics/engine_metrics.h"

namespace volley::metrics {

// An event subscriber for one shard: it adds to that shard's counter slots, so give every
// shard its own (events are emitted on the shard's loop thread).
class EventCounters final : public events::EventSink {
 public:
  EventCounters(EngineMetrics* metrics, int shard) : metrics_(metrics), shard_(shard) {}

  void OnEvent(const events::RecipientEvent& event) override;
  void OnMessageReceived(const events::MessageReceived& message) override;

 private:
  EngineMetrics* const metrics_;
  const int shard_;
};

}  // namespace volley::metrics

#endif  // VOLLEY_ENGINE_METRICS_EVENT_COUNTERS_H_
