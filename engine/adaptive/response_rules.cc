#include "engine/adaptive/response_rules.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/adaptive/default_automation_data.h"
#include "engine/base/logging.h"
#include "engine/config/automation_section.h"
#include "re2/re2.h"

namespace volley::adaptive {

const std::vector<config::AutomationRule>& DefaultAutomationRules() {
  static const std::vector<config::AutomationRule>* const rules = [] {
    absl::StatusOr<std::vector<config::AutomationRule>> parsed =
        config::ParseAutomationText(kDefaultAutomationToml, "default_automation.toml");
    // The file is part of the build and tested; a bad one is a bug of this build.
    CHECK(parsed.ok()) << parsed.status().ToString();
    return new std::vector<config::AutomationRule>(*std::move(parsed));
  }();
  return *rules;
}

ResponseRules::ResponseRules(const config::ShapingRules& shaping) {
  std::vector<const config::AutomationRule*> all;
  if (shaping.default_automation) {
    for (const config::AutomationRule& r : DefaultAutomationRules()) all.push_back(&r);
  }
  for (const config::AutomationRule& r : shaping.automation) all.push_back(&r);
  RE2::Options options;
  options.set_log_errors(false);
  for (const config::AutomationRule* r : all) {
    Compiled compiled{*r, {}};
    for (const std::string& pattern : r->regex) {
      auto re = std::make_unique<RE2>(pattern, options);
      if (re->ok()) compiled.regex.push_back(std::move(re));  // the config checked them
    }
    rules_.push_back(std::move(compiled));
  }
}

ResponseRules::~ResponseRules() = default;

std::vector<size_t> ResponseRules::Matching(absl::string_view reply_text,
                                            absl::string_view provider,
                                            absl::string_view domain) const {
  std::vector<size_t> out;
  const re2::StringPiece text(reply_text.data(), reply_text.size());
  for (size_t i = 0; i < rules_.size(); ++i) {
    const config::AutomationRule& spec = rules_[i].spec;
    if (!spec.provider.empty() && spec.provider != provider) continue;
    if (!spec.domain.empty() && spec.domain != domain) continue;
    for (const auto& re : rules_[i].regex) {
      if (RE2::PartialMatch(text, *re)) {
        out.push_back(i);
        break;
      }
    }
  }
  return out;
}

}  // namespace volley::adaptive
