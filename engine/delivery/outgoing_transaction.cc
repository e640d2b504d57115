#include "engine/delivery/outgoing_transaction.h"

namespace volley::delivery {

smtp::Transaction OutgoingTransaction(const std::vector<RecipientPtr>& batch,
                                      const bounce::VerpCodec* verp) {
  const MessageInfo& message = *batch.front()->message;
  smtp::Transaction transaction;
  transaction.mail_from = verp != nullptr && !message.sender.empty()
                              ? verp->Encode(message.queue_id, batch.front()->address)
                              : message.sender;
  transaction.content = batch.front()->body;
  transaction.eight_bit = message.eight_bit;
  transaction.smtputf8 = message.smtputf8;
  transaction.dsn_ret = message.dsn_ret;
  transaction.dsn_envid = message.dsn_envid;
  for (const RecipientPtr& r : batch) {
    transaction.recipients.push_back(
        smtp::TransactionRecipient{r->address, r->dsn_notify, r->dsn_orcpt});
  }
  return transaction;
}

}  // namespace volley::delivery
