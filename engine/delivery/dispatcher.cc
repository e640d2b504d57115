#include "engine/delivery/dispatcher.h"

#include <utility>

#include "absl/hash/hash.h"

namespace volley::delivery {

size_t Dispatcher::OwnerOf(absl::string_view name) const {
  return absl::Hash<absl::string_view>()(name) % shards_.size();
}

void Dispatcher::Dispatch(std::vector<RecipientPtr> recipients) const {
  if (shards_.size() == 1) {
    DeliveryShard* shard = shards_[0];
    shard->shard()->Post(
        [shard, batch = std::move(recipients)]() mutable { shard->Enqueue(std::move(batch)); });
    return;
  }
  std::vector<std::vector<RecipientPtr>> batches(shards_.size());
  for (RecipientPtr& r : recipients) batches[OwnerOf(r->domain)].push_back(std::move(r));
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (batches[i].empty()) continue;
    DeliveryShard* shard = shards_[i];
    shard->shard()->Post(
        [shard, batch = std::move(batches[i])]() mutable { shard->Enqueue(std::move(batch)); });
  }
}

}  // namespace volley::delivery
