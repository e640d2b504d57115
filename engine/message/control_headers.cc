#include "engine/message/control_headers.h"

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/message/header.h"

namespace volley::message {
namespace {

// A field to remove: where it starts in the content and how long it is with its line breaks.
struct Span {
  size_t offset;
  size_t length;
};

// Removes the spans (in content order, not overlapping) with one move of each kept part, so
// that many repeated fields in a large message cost one pass, not one per field.
void RemoveSpans(const std::vector<Span>& spans, std::string* content) {
  char* data = content->data();
  size_t write = spans.front().offset;
  size_t read = write;
  for (const Span& span : spans) {
    std::memmove(data + write, data + read, span.offset - read);
    write += span.offset - read;
    read = span.offset + span.length;
  }
  std::memmove(data + write, data + read, content->size() - read);
  content->resize(write + content->size() - read);
}

absl::Status Refuse(absl::string_view header, const absl::Status& why) {
  return absl::InvalidArgumentError(absl::StrCat(header, ": ", why.message()));
}

}  // namespace

absl::StatusOr<MessageTags> ExtractControlHeaders(const ControlHeaderPolicy& policy,
                                                  std::string* content) {
  std::optional<std::string> tenant, campaign, priority;
  std::vector<Span> spans;
  HeaderReader reader(*content);
  HeaderField field;
  while (reader.Next(&field)) {
    std::optional<std::string>* value = nullptr;
    if (absl::EqualsIgnoreCase(field.name, policy.tenant_header)) {
      value = &tenant;
    } else if (absl::EqualsIgnoreCase(field.name, policy.campaign_header)) {
      value = &campaign;
    } else if (absl::EqualsIgnoreCase(field.name, policy.priority_header)) {
      value = &priority;
    } else {
      continue;
    }
    if (!value->has_value()) {
      *value = std::string(absl::StripAsciiWhitespace(UnfoldedValue(field)));
    }
    spans.push_back({static_cast<size_t>(field.raw.data() - content->data()), field.raw.size()});
  }
  MessageTags tags = policy.defaults;
  if (tenant.has_value()) {
    if (absl::Status ok = CheckTag(*tenant); !ok.ok()) return Refuse(policy.tenant_header, ok);
    tags.tenant = *std::move(tenant);
  }
  if (campaign.has_value()) {
    if (absl::Status ok = CheckTag(*campaign); !ok.ok()) return Refuse(policy.campaign_header, ok);
    tags.campaign = *std::move(campaign);
  }
  if (priority.has_value()) {
    absl::StatusOr<uint8_t> parsed = ParsePriority(*priority);
    if (!parsed.ok()) return Refuse(policy.priority_header, parsed.status());
    tags.priority = *parsed;
  }
  if (!spans.empty()) RemoveSpans(spans, content);
  return tags;
}

}  // namespace volley::message
