// [[shaping.automation]]: response rules, as KumoMTA's [[dom.automation]] (adaptive/
// response_rules.h applies them):
//
//   [[shaping.automation]]
//   regex = ["421 .*too many connections", "4\\.7\\.0 .*rate limit"]   # RE2, any one matches
//   action = { SetConfig = { name = "connection_limit", value = 2 } }  # or "Suspend",
//            # "SuspendTenant", "SuspendCampaign", "Bounce", or an array of actions
//   trigger = { Threshold = "3/m" }                                    # or "Immediate"
//   duration = "30m"
//   provider = "google"                                                # optional scope
//   domain = "gmail.com"                                               # optional scope
#ifndef VOLLEY_ENGINE_CONFIG_AUTOMATION_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_AUTOMATION_SECTION_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/config/config_parser.h"
#include "engine/config/shaping_rules.h"

namespace volley::config {

// Reads the array of [[shaping.automation]] tables in `value`, appending each rule to `rules`
// and reporting every problem with its line (an invalid regex, an unknown action or shaping key,
// a bad threshold or duration).
void ParseAutomationRules(const toml::node& value, ConfigParser& parser,
                          std::vector<AutomationRule>* rules);

// The rules of a file that holds only [[shaping.automation]] tables: the shipped default set,
// and tests.
absl::StatusOr<std::vector<AutomationRule>> ParseAutomationText(absl::string_view toml_text,
                                                                absl::string_view origin);

// The shaping keys a SetConfig action may override.
inline constexpr absl::string_view kSettableIntKeys[] = {
    "connection_limit", "max_deliveries_per_connection", "max_recipients_per_batch"};
inline constexpr absl::string_view kSettableRateKeys[] = {"max_message_rate",
                                                          "max_connection_rate"};

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_AUTOMATION_SECTION_H_
