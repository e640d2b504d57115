// Hands recipients to the shard that owns their destination. A domain's owner is fixed for
// the life of the process (hash of the domain modulo the shard count), so all of a domain's
// queue, connections and DNS state live on one loop.
#ifndef VOLLEY_ENGINE_DELIVERY_DISPATCHER_H_
#define VOLLEY_ENGINE_DELIVERY_DISPATCHER_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "engine/delivery/delivery_shard.h"
#include "engine/delivery/queued_recipient.h"

namespace volley::delivery {

class Dispatcher {
 public:
  // `shards[i]` runs on its own Shard; both outlive the dispatcher's use.
  explicit Dispatcher(std::vector<DeliveryShard*> shards) : shards_(std::move(shards)) {}

  // The shard owning a domain, or a site by its key.
  size_t OwnerOf(absl::string_view name) const;
  DeliveryShard* shard(size_t index) const { return shards_[index]; }

  // Thread-safe. Groups the recipients by owner and posts one batch to each.
  void Dispatch(std::vector<RecipientPtr> recipients) const;

 private:
  std::vector<DeliveryShard*> shards_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_DISPATCHER_H_
