#include "engine/runtime/shard_router.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace volley {
namespace {

// What a shard's tasks are given: records what reached it, and on which thread.
struct Inbox {
  Shard* shard = nullptr;
  std::vector<std::string> items;
  bool wrong_thread = false;
};

TEST(ShardRouter, PostsReachTheOwnersObjectOnItsThread) {
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<Shard*> raw;
  for (int i = 0; i < 3; ++i) {
    shards.push_back(std::make_unique<Shard>(i));
    raw.push_back(shards.back().get());
  }
  ShardRouter<Inbox> router(raw);
  std::vector<Inbox> inboxes(3);
  for (int i = 0; i < 3; ++i) {
    inboxes[i].shard = raw[i];
    ASSERT_TRUE(shards[i]
                    ->Start([&, i] {
                      router.Attach(i, &inboxes[i]);
                      return absl::OkStatus();
                    })
                    .ok());
  }
  std::vector<std::string> names;
  for (int n = 0; n < 300; ++n) names.push_back("domain" + std::to_string(n) + ".test");
  for (const std::string& name : names) {
    const size_t owner = router.OwnerOf(name);
    ASSERT_LT(owner, 3u);
    EXPECT_EQ(router.OwnerOf(name), owner);  // stable
    EXPECT_TRUE(router.Post(owner, [name](Inbox& inbox) {
      if (!inbox.shard->InLoopThread()) inbox.wrong_thread = true;
      inbox.items.push_back(name);
    }));
  }
  for (int i = 0; i < 3; ++i) {
    router.Post(i, [&router, i](Inbox& inbox) {
      router.Detach(i);
      inbox.shard->CloseMailbox();
    });
  }
  size_t total = 0;
  for (int i = 0; i < 3; ++i) {
    shards[i]->Join();
    EXPECT_FALSE(inboxes[i].wrong_thread);
    for (const std::string& item : inboxes[i].items) EXPECT_EQ(router.OwnerOf(item), i);
    total += inboxes[i].items.size();
    // Every shard owns some of 300 names.
    EXPECT_GT(inboxes[i].items.size(), 0u);
  }
  EXPECT_EQ(total, names.size());
  // Stopped shards refuse work.
  EXPECT_FALSE(router.Post(0, [](Inbox&) {}));
}

TEST(ShardRouter, TasksForADetachedShardAreDropped) {
  Shard shard(0);
  ShardRouter<Inbox> router({&shard});
  Inbox inbox;
  inbox.shard = &shard;
  ASSERT_TRUE(shard
                  .Start([&] {
                    router.Attach(0, &inbox);
                    return absl::OkStatus();
                  })
                  .ok());
  router.Post(0, [](Inbox& in) { in.items.push_back("before"); });
  router.Post(0, [&](Inbox&) { router.Detach(0); });
  router.Post(0, [](Inbox& in) { in.items.push_back("after"); });
  // A plain task after them: when it runs, the dropped one has had its turn.
  shard.Post([&] { shard.CloseMailbox(); });
  shard.Join();
  EXPECT_EQ(inbox.items, std::vector<std::string>{"before"});
}

}  // namespace
}  // namespace volley
