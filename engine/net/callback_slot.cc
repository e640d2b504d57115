#include "engine/net/callback_slot.h"

#include <utility>

namespace volley::net {

void CallbackSlot::Set(StreamCallbacks callbacks) {
  if (depth_ > 0) {
    next_ = std::make_unique<StreamCallbacks>(std::move(callbacks));
    return;
  }
  callbacks_ = std::move(callbacks);
}

template <typename Run>
void CallbackSlot::Dispatch(Run run) {
  ++depth_;
  run(callbacks_);
  if (--depth_ == 0 && next_ != nullptr) {
    callbacks_ = std::move(*next_);
    next_.reset();
  }
}

void CallbackSlot::Data(absl::string_view bytes) {
  if (!callbacks_.on_data) return;
  Dispatch([bytes](StreamCallbacks& c) { c.on_data(bytes); });
}

void CallbackSlot::End(const absl::Status& status) {
  if (!callbacks_.on_end) return;
  Dispatch([&status](StreamCallbacks& c) { c.on_end(status); });
}

}  // namespace volley::net
