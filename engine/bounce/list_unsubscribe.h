// RFC 8058 one-click unsubscribe for bulk mail: the List-Unsubscribe and List-Unsubscribe-Post
// header fields the injector adds, each carrying a signed link (unsubscribe_token.h) that names
// the recipient, tenant and campaign. Gmail and Yahoo require both fields of bulk senders
// (2024); none of the peers makes them.
#ifndef VOLLEY_ENGINE_BOUNCE_LIST_UNSUBSCRIBE_H_
#define VOLLEY_ENGINE_BOUNCE_LIST_UNSUBSCRIBE_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/bounce/unsubscribe_token.h"
#include "engine/message/message_tags.h"

namespace volley::bounce {

struct ListUnsubscribeOptions {
  std::string url;  // the link is url + "/" + token; no trailing slash
  absl::Duration expire_after = absl::Hours(24 * 90);
  bool enabled = true;                             // for a tenant not in `tenants`
  absl::flat_hash_map<std::string, bool> tenants;  // tenant -> on
};

// Immutable; any thread.
class ListUnsubscribe {
 public:
  ListUnsubscribe(ListUnsubscribeOptions options, std::shared_ptr<const UnsubscribeTokens> tokens);

  // Bulk mail is what a recipient can unsubscribe from: a message of a campaign, or of bulk
  // priority or lower. Transactional mail (a receipt, a password reset) has neither.
  static bool IsBulk(const message::MessageTags& tags);

  // The two header fields to put in front of `content` (each ending CRLF), or "" when it gets
  // none: not bulk, the tenant has it off, several recipients (the link is one recipient's),
  // or the message has a List-Unsubscribe or List-Unsubscribe-Post of its own (the platform's
  // links stay as they are).
  std::string HeadersFor(const message::MessageTags& tags, absl::string_view recipient,
                         size_t recipients, absl::string_view content, absl::Time now) const;

  // The link for `recipient`, as HeadersFor writes it.
  std::string Link(const message::MessageTags& tags, absl::string_view recipient,
                   absl::Time now) const;

  const UnsubscribeTokens& tokens() const { return *tokens_; }

 private:
  const ListUnsubscribeOptions options_;
  const std::shared_ptr<const UnsubscribeTokens> tokens_;
};

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_LIST_UNSUBSCRIBE_H_
