// The header fields that set a message's tags (message_tags.h) at SMTP injection: by default
// X-Volley-Tenant, X-Volley-Campaign and X-Volley-Priority. They are instructions to Volley, not
// part of the message, so they are read and removed before the message is stored and never
// reach a recipient.
#ifndef VOLLEY_ENGINE_MESSAGE_CONTROL_HEADERS_H_
#define VOLLEY_ENGINE_MESSAGE_CONTROL_HEADERS_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/message/message_tags.h"

namespace volley::message {

// Which fields are read, and the tags of a message that has none of them.
struct ControlHeaderPolicy {
  std::string tenant_header = "X-Volley-Tenant";
  std::string campaign_header = "X-Volley-Campaign";
  std::string priority_header = "X-Volley-Priority";
  MessageTags defaults;  // each for its header's absence
};

// Reads the policy's fields from the header section of *content (HeaderReader: names matched
// case-insensitively, the value unfolded and trimmed) and removes them. When a field appears
// more than once the first one's value counts, and every one of them is removed (the later
// values are not looked at). Lines after the header section are body and left alone.
//
// Returns the message's tags: each field's value, or the policy's default where the field is
// absent. A value that is not valid (CheckTag, ParsePriority; an empty value too) is
// InvalidArgument "<header as configured>: <why, with the value quoted>", and *content is left
// as it was. Pure; one pass over the header section and, when something is removed, one over
// the content.
absl::StatusOr<MessageTags> ExtractControlHeaders(const ControlHeaderPolicy& policy,
                                                  std::string* content);

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_CONTROL_HEADERS_H_
