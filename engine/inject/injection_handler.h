// The injection listener's side of each SMTP session: relay rights, and turning a received
// message into a spooled one. The 250 goes out only after the spool writer has synced the
// message; then its recipients go to the shards that own their domains.
#ifndef VOLLEY_ENGINE_INJECT_INJECTION_HANDLER_H_
#define VOLLEY_ENGINE_INJECT_INJECTION_HANDLER_H_

#include <memory>
#include <optional>
#include <string>

#include "engine/delivery/context.h"
#include "engine/delivery/dispatcher.h"
#include "engine/runtime/shard.h"
#include "engine/smtp/server_session.h"
#include "queue/message_id.h"

namespace volley::inject {

// One per shard; called on that shard's loop thread.
class InjectionHandler : public smtp::ServerSessionHandler {
 public:
  InjectionHandler(Shard* shard, const delivery::EngineContext& context,
                   const delivery::Dispatcher* dispatcher, queue::MessageIdGenerator* ids);
  ~InjectionHandler() override;

  std::optional<smtp::Reply> CheckMailFrom(const smtp::Envelope& envelope) override;
  std::optional<smtp::Reply> CheckRecipient(const smtp::Envelope& envelope,
                                            absl::string_view recipient) override;
  void OnMessage(smtp::Envelope envelope, std::string content,
                 absl::AnyInvocable<void(smtp::MessageResponse)> done) override;

  // Messages handed to the spool writer and not yet answered.
  int pending() const { return pending_; }

 private:
  void OnStored(const smtp::Envelope& envelope, const queue::MessageMeta& meta,
                std::vector<queue::RecipientRecord> records,
                std::shared_ptr<const std::string> body, absl::Status status,
                absl::AnyInvocable<void(smtp::MessageResponse)> done);

  // 452 4.3.1 while the spool's disk is below [server] spool_min_free or its writes fail.
  std::optional<smtp::Reply> RefuseIfSpoolFull() const;

  Shard* const shard_;
  delivery::EngineContext context_;
  const delivery::Dispatcher* dispatcher_;
  queue::MessageIdGenerator* ids_;
  int pending_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_INJECTION_HANDLER_H_
