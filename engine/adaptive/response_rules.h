// The response rules in force ([[shaping.automation]], after the shipped default set unless
// [shaping] default_automation = false), compiled once per config: which rules a remote reply
// matches. Rules match the reply as "CODE ENHANCED TEXT", e.g. "421 4.7.0 Too many
// connections" (no enhanced code: "421 Too many connections"), with RE2: linear time, whatever
// a remote server writes.
#ifndef VOLLEY_ENGINE_ADAPTIVE_RESPONSE_RULES_H_
#define VOLLEY_ENGINE_ADAPTIVE_RESPONSE_RULES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/config/shaping_rules.h"
#include "engine/smtp/reply.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace volley::adaptive {

// The shipped rules (default_automation.toml, built into the binary).
const std::vector<config::AutomationRule>& DefaultAutomationRules();

// Immutable once built; any thread.
class ResponseRules {
 public:
  // The shipped rules (when `shaping.default_automation`) followed by the config's.
  explicit ResponseRules(const config::ShapingRules& shaping);
  ~ResponseRules();

  bool empty() const { return rules_.empty(); }
  size_t size() const { return rules_.size(); }
  const config::AutomationRule& rule(size_t i) const { return rules_[i].spec; }

  // The indexes of the rules whose regexes match `reply_text` and whose scope takes a site of
  // `provider` ("" for none) and mail to `domain`, in rule order.
  std::vector<size_t> Matching(absl::string_view reply_text, absl::string_view provider,
                               absl::string_view domain) const;

 private:
  struct Compiled {
    config::AutomationRule spec;
    std::vector<std::unique_ptr<re2::RE2>> regex;
  };
  std::vector<Compiled> rules_;
};

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_RESPONSE_RULES_H_
