// Fans events out to every subscriber.
#ifndef VOLLEY_ENGINE_EVENTS_EVENT_BUS_H_
#define VOLLEY_ENGINE_EVENTS_EVENT_BUS_H_

#include <vector>

#include "engine/events/event.h"

namespace volley::events {

// Subscribers are added while the engine is assembled, before any shard runs; from then on
// the bus is read-only and OnEvent may be called from every shard at once. Subscribers are
// called in the order they were added and must outlive the bus's use.
class EventBus final : public EventSink {
 public:
  void Subscribe(EventSink* sink) { sinks_.push_back(sink); }

  void OnEvent(const RecipientEvent& event) override {
    for (EventSink* sink : sinks_) sink->OnEvent(event);
  }
  void OnMessageReceived(const MessageReceived& message) override {
    for (EventSink* sink : sinks_) sink->OnMessageReceived(message);
  }
  void OnSuspension(const SuspensionEvent& event) override {
    for (EventSink* sink : sinks_) sink->OnSuspension(event);
  }

 private:
  std::vector<EventSink*> sinks_;
};

}  // namespace volley::events

#endif  // VOLLEY_ENGINE_EVENTS_EVENT_BUS_H_
