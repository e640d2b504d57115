// The SMTP transaction for a batch of one message's recipients: the envelope, the content and
// the DSN parameters. With VERP (engine/bounce/verp.h) every recipient has a return path of its
// own, so a transaction carries one recipient; the null sender (a notice) keeps its <>.
#ifndef VOLLEY_ENGINE_DELIVERY_OUTGOING_TRANSACTION_H_
#define VOLLEY_ENGINE_DELIVERY_OUTGOING_TRANSACTION_H_

#include <vector>

#include "engine/bounce/verp.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/smtp/client_session.h"

namespace volley::delivery {

// `batch` is not empty and holds recipients of one message; `verp` may be null (off).
smtp::Transaction OutgoingTransaction(const std::vector<RecipientPtr>& batch,
                                      const bounce::VerpCodec* verp);

// The most recipients in one transaction, given the shaping limit.
inline int RecipientsPerTransaction(int limit, const bounce::VerpCodec* verp) {
  return verp != nullptr ? 1 : limit;
}

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_OUTGOING_TRANSACTION_H_
