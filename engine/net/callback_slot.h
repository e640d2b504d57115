// A stream's callbacks, run so that they may be replaced from inside themselves.
#ifndef VOLLEY_ENGINE_NET_CALLBACK_SLOT_H_
#define VOLLEY_ENGINE_NET_CALLBACK_SLOT_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/net/stream.h"

namespace volley::net {

// Stream::SetCallbacks may be called from inside on_data or on_end (a TLS layer taking over a
// connection after STARTTLS, a session handing its stream on). Replacing a callback while it
// runs would destroy it under itself, so a replacement made during a call takes over when the
// outermost call returns. Owned by a stream's state, which outlives the stream object while a
// callback runs. Loop thread only.
class CallbackSlot {
 public:
  void Set(StreamCallbacks callbacks);
  void Data(absl::string_view bytes);
  void End(const absl::Status& status);

 private:
  template <typename Run>
  void Dispatch(Run run);

  StreamCallbacks callbacks_;
  std::unique_ptr<StreamCallbacks> next_;  // set while a callback runs
  int depth_ = 0;                          // callbacks running (on_end may run inside on_data)
};

}  // namespace volley::net

#endif  // VOLLEY_ENGINE_NET_CALLBACK_SLOT_H_
