// Runs resolver callbacks on the next loop iteration, so that no callback ever runs inside
// the call that answered it. See dns/README.md ("Callbacks").
#ifndef VOLLEY_DNS_RESULT_QUEUE_H_
#define VOLLEY_DNS_RESULT_QUEUE_H_

#include <uv.h>

#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "dns/resolver.h"

namespace volley::dns {

// Posted (callback, result) pairs, run by one uv_idle_t callback. The results are shared:
// posting a cached answer copies a shared_ptr, and once the queue has grown to the traffic,
// posting and running allocate nothing.
//
// All calls and callbacks on the loop's thread. The handle lives in a heap box freed in its
// close callback, so the queue may be destroyed while its close is pending.
class ResultQueue {
 public:
  static absl::StatusOr<std::unique_ptr<ResultQueue>> Create(uv_loop_t* loop);
  ResultQueue(const ResultQueue&) = delete;
  ResultQueue& operator=(const ResultQueue&) = delete;
  // Callbacks still queued are dropped without running.
  ~ResultQueue();

  // Queues `callback(*result)`. Everything posted before the next loop
  // iteration runs in it, in order; what those callbacks post waits for the
  // iteration after. Once Close has closed the handle, the callback is dropped
  // and an error logged.
  void Post(Resolver::Callback&& callback, std::shared_ptr<const MxResult> result);

  // Runs what is queued, and what that posts in turn, then closes the handle
  // and runs `done` from its close callback (never inside Close). `done` may
  // destroy the queue.
  void Close(absl::AnyInvocable<void()> done);

 private:
  struct IdleBox;
  struct Delivery {
    Resolver::Callback callback;
    std::shared_ptr<const MxResult> result;
  };

  explicit ResultQueue(IdleBox* idle);
  void Drain();
  void CloseHandle();

  IdleBox* idle_;  // null once closed
  std::vector<Delivery> deliveries_;
  std::vector<Delivery> batch_;  // the deliveries being run; kept for its capacity
  bool draining_ = false;
  bool closing_ = false;
  absl::AnyInvocable<void()> closed_;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_RESULT_QUEUE_H_
