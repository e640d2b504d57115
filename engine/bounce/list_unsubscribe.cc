#include "engine/bounce/list_unsubscribe.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/message/header.h"

namespace volley::bounce {

ListUnsubscribe::ListUnsubscribe(ListUnsubscribeOptions options,
                                 std::shared_ptr<const UnsubscribeTokens> tokens)
    : options_(std::move(options)), tokens_(std::move(tokens)) {}

bool ListUnsubscribe::IsBulk(const message::MessageTags& tags) {
  return !tags.campaign.empty() || tags.priority <= message::kPriorityBulk;
}

std::string ListUnsubscribe::Link(const message::MessageTags& tags, absl::string_view recipient,
                                  absl::Time now) const {
  UnsubscribeClaim claim;
  // Mailbox providers do not tell the case of an address apart; the suppression list does not
  // either.
  claim.recipient = absl::AsciiStrToLower(recipient);
  claim.tenant = tags.tenant;
  claim.campaign = tags.campaign;
  claim.expires = now + options_.expire_after;
  return absl::StrCat(options_.url, "/", tokens_->Make(claim));
}

std::string ListUnsubscribe::HeadersFor(const message::MessageTags& tags,
                                        absl::string_view recipient, size_t recipients,
                                        absl::string_view content, absl::Time now) const {
  if (recipients != 1 || !IsBulk(tags)) return "";
  auto tenant = options_.tenants.find(tags.tenant);
  if (!(tenant == options_.tenants.end() ? options_.enabled : tenant->second)) return "";
  if (!message::FindHeader(content, "List-Unsubscribe").empty() ||
      !message::FindHeader(content, "List-Unsubscribe-Post").empty()) {
    return "";
  }
  // One line: a token is at most a few hundred characters ([unsubscribe] url is short), well
  // within RFC 5322's 998.
  return absl::StrCat("List-Unsubscribe: <", Link(tags, recipient, now),
                      ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
}

}  // namespace volley::bounce
