// [[webhook]]; see webhook_section.h.
#include "engine/config/webhook_section.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/config/values.h"
#include "engine/http/http_client.h"

namespace volley::config {
namespace {

// The recipient record types Volley writes (events/event.h), which a webhook may ask for.
constexpr absl::string_view kRecordTypes[] = {"Reception", "Delivery",   "TransientFailure",
                                              "Bounce",    "Expiration", "Suppressed",
                                              "OOB",       "Feedback",   "Unsubscribe"};

void ReadEvents(const toml::node& value, ConfigParser& parser, WebhookConfig& hook) {
  const toml::array* array = value.as_array();
  if (array == nullptr || array->empty()) {
    parser.AddError(value, "[[webhook]] events: expected a non-empty array of record types");
    return;
  }
  std::vector<std::string> events;
  for (const toml::node& element : *array) {
    std::optional<std::string> name = parser.ReadString(element, "[[webhook]] events");
    if (!name.has_value()) return;
    if (std::find(std::begin(kRecordTypes), std::end(kRecordTypes), *name) ==
        std::end(kRecordTypes)) {
      parser.AddError(element,
                      absl::StrCat("[[webhook]] events: \"", *name,
                                   "\" is not a record type this version writes (Reception, "
                                   "Delivery, TransientFailure, Bounce, Expiration, Suppressed, "
                                   "OOB, Feedback, Unsubscribe)"));
      return;
    }
    events.push_back(*std::move(name));
  }
  hook.events = std::move(events);
}

}  // namespace

void ParseWebhooks(const toml::node& value, ConfigParser& parser, Config& config) {
  const toml::array* array = value.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    parser.AddError(value, "[[webhook]]: expected an array of tables ([[webhook]])");
    return;
  }
  for (const toml::node& element : *array) {
    const toml::table* table = element.as_table();
    WebhookConfig hook;
    bool has_url = false;
    parser.Walk(*table, "[webhook]",
                {
                    {"name",
                     [&](const toml::node& v) {
                       if (auto s = parser.ReadString(v, "[[webhook]] name")) hook.name = *s;
                     }},
                    {"url",
                     [&](const toml::node& v) {
                       has_url = true;  // (a bad one is reported as such, not as missing)
                       std::optional<std::string> s = parser.ReadString(v, "[[webhook]] url");
                       if (!s.has_value()) return;
                       absl::StatusOr<http::HttpUrl> url = http::ParseHttpUrl(*s);
                       if (!url.ok()) {
                         parser.AddError(v, absl::StrCat("[[webhook]] url \"", *s,
                                                         "\": ", url.status().message()));
                         return;
                       }
                       hook.url = *std::move(s);
                     }},
                    {"events", [&](const toml::node& v) { ReadEvents(v, parser, hook); }},
                    {"batch_size",
                     [&](const toml::node& v) {
                       if (auto n = parser.ReadInteger(v, "[[webhook]] batch_size", 1, 10000)) {
                         hook.batch_size = static_cast<int>(*n);
                       }
                     }},
                    {"max_batch_delay",
                     [&](const toml::node& v) {
                       if (auto d = parser.ReadDuration(v, "[[webhook]] max_batch_delay")) {
                         hook.max_batch_delay = *d;
                       }
                     }},
                    {"timeout",
                     [&](const toml::node& v) {
                       if (auto d = parser.ReadDuration(v, "[[webhook]] timeout"))
                         hook.timeout = *d;
                     }},
                    {"hmac_secret",
                     [&](const toml::node& v) {
                       if (auto s = parser.ReadString(v, "[[webhook]] hmac_secret"))
                         hook.hmac_secret = *s;
                     }},
                },
                {});
    if (!has_url) {
      parser.AddError(element, "[[webhook]]: url is required");
      continue;
    }
    if (hook.name.empty()) hook.name = hook.url;
    for (const WebhookConfig& other : config.webhooks) {
      if (other.name == hook.name) {
        parser.AddError(element, absl::StrCat("[[webhook]]: a second webhook named \"", hook.name,
                                              "\" (give each its own name)"));
      }
    }
    config.webhooks.push_back(std::move(hook));
  }
}

}  // namespace volley::config
