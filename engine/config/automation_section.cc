#include "engine/config/automation_section.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"

namespace volley::config {
namespace {

constexpr absl::string_view kWhat = "[[shaping.automation]]";

struct NamedKind {
  absl::string_view name;
  AutomationAction::Kind kind;
};
constexpr NamedKind kActions[] = {
    {"Suspend", AutomationAction::Kind::kSuspend},
    {"SuspendTenant", AutomationAction::Kind::kSuspendTenant},
    {"SuspendCampaign", AutomationAction::Kind::kSuspendCampaign},
    {"Bounce", AutomationAction::Kind::kBounce},
};

std::string KnownActions() {
  std::vector<std::string> names;
  for (const NamedKind& k : kActions) names.emplace_back(k.name);
  names.emplace_back("{ SetConfig = { name, value } }");
  return absl::StrJoin(names, ", ");
}

// Reads one rule's keys.
class RuleReader {
 public:
  RuleReader(ConfigParser& parser, AutomationRule& rule) : parser_(parser), rule_(rule) {}

  void Read(const toml::table& table) {
    parser_.Walk(table, "shaping.automation",
                 {{"regex", [this](const toml::node& v) { ReadRegexes(v); }},
                  {"action", [this](const toml::node& v) { ReadActions(v); }},
                  {"trigger", [this](const toml::node& v) { ReadTrigger(v); }},
                  {"duration",
                   [this](const toml::node& v) {
                     if (auto d = parser_.ReadDuration(v, Key("duration"))) rule_.duration = *d;
                     has_duration_ = true;
                   }},
                  {"provider",
                   [this](const toml::node& v) {
                     if (auto s = parser_.ReadString(v, Key("provider"))) rule_.provider = *s;
                   }},
                  {"domain",
                   [this](const toml::node& v) {
                     if (auto s = parser_.ReadString(v, Key("domain"))) {
                       rule_.domain = absl::AsciiStrToLower(*s);
                     }
                   }}},
                 {});
    const uint32_t line = table.source().begin.line;
    if (!has_regex_) parser_.AddError(line, Key("regex: required (what replies the rule matches)"));
    if (!has_action_) parser_.AddError(line, Key("action: required (" + KnownActions() + ")"));
    if (!has_duration_) {
      parser_.AddError(line, Key("duration: required (how long the action lasts, e.g. \"30m\")"));
    }
  }

 private:
  static std::string Key(absl::string_view key) { return absl::StrCat(kWhat, " ", key); }

  void ReadRegexes(const toml::node& v) {
    has_regex_ = true;
    auto one = [this](const toml::node& n) {
      std::optional<std::string> pattern = parser_.ReadString(n, Key("regex"));
      if (!pattern.has_value()) return;
      RE2::Options options;
      options.set_log_errors(false);
      RE2 re(*pattern, options);
      if (!re.ok()) {
        parser_.AddError(n, absl::StrCat(Key("regex"), ": invalid regular expression \"", *pattern,
                                         "\": ", re.error()));
        return;
      }
      rule_.regex.push_back(*std::move(pattern));
    };
    if (const toml::array* list = v.as_array()) {
      if (list->empty()) parser_.AddError(v, Key("regex: the list is empty"));
      for (const toml::node& n : *list) one(n);
    } else {
      one(v);
    }
  }

  void ReadActions(const toml::node& v) {
    has_action_ = true;
    if (const toml::array* list = v.as_array()) {
      if (list->empty()) parser_.AddError(v, Key("action: the list is empty"));
      for (const toml::node& n : *list) ReadAction(n);
    } else {
      ReadAction(v);
    }
  }

  void ReadAction(const toml::node& v) {
    if (const auto* s = v.as_string()) {
      for (const NamedKind& k : kActions) {
        if (AsAbsl(s->get()) == k.name) {
          rule_.actions.push_back(AutomationAction{k.kind, "", 0, std::nullopt});
          return;
        }
      }
      parser_.AddError(v, absl::StrCat(Key("action"), ": unknown action \"", AsAbsl(s->get()),
                                       "\" (known: ", KnownActions(), ")"));
      return;
    }
    const toml::table* table = v.as_table();
    const toml::node* set = table != nullptr ? table->get("SetConfig") : nullptr;
    if (set == nullptr || table->size() != 1) {
      parser_.AddError(v, absl::StrCat(Key("action"), ": expected one of ", KnownActions()));
      return;
    }
    ReadSetConfig(*set);
  }

  void ReadSetConfig(const toml::node& v) {
    const std::string what = Key("action SetConfig");
    const toml::table* table = parser_.ExpectTable(v, what);
    if (table == nullptr) return;
    const toml::node* name = table->get("name");
    const toml::node* value = table->get("value");
    if (name == nullptr || value == nullptr || table->size() != 2) {
      parser_.AddError(v, what + ": expected { name = \"connection_limit\", value = 2 }");
      return;
    }
    std::optional<std::string> key = parser_.ReadString(*name, what + " name");
    if (!key.has_value()) return;
    AutomationAction action{AutomationAction::Kind::kSetConfig, *key, 0, std::nullopt};
    const auto is = [&](absl::Span<const absl::string_view> keys) {
      return std::find(keys.begin(), keys.end(), *key) != keys.end();
    };
    if (is(kSettableIntKeys)) {
      auto n = parser_.ReadInteger(*value, what + " value", 1, std::numeric_limits<int>::max());
      if (!n.has_value()) return;
      action.int_value = static_cast<int>(*n);
    } else if (is(kSettableRateKeys)) {
      if (!parser_.ReadRate(*value, what + " value", &action.rate_value)) return;
    } else {
      std::vector<absl::string_view> known(std::begin(kSettableIntKeys),
                                           std::end(kSettableIntKeys));
      known.insert(known.end(), std::begin(kSettableRateKeys), std::end(kSettableRateKeys));
      parser_.AddError(*name, absl::StrCat(what, " name: unknown shaping key \"", *key,
                                           "\" (a rule may set ", absl::StrJoin(known, ", "), ")"));
      return;
    }
    rule_.actions.push_back(std::move(action));
  }

  void ReadTrigger(const toml::node& v) {
    if (const auto* s = v.as_string(); s != nullptr && s->get() == "Immediate") return;
    const toml::table* table = v.as_table();
    const toml::node* threshold = table != nullptr ? table->get("Threshold") : nullptr;
    if (threshold == nullptr || table->size() != 1) {
      parser_.AddError(v, Key("trigger: expected \"Immediate\" or { Threshold = \"3/m\" }"));
      return;
    }
    std::optional<Rate> rate;
    if (!parser_.ReadRate(*threshold, Key("trigger Threshold"), &rate)) return;
    if (!rate.has_value()) {
      parser_.AddError(*threshold, Key("trigger Threshold: needs a count, e.g. \"3/m\""));
      return;
    }
    rule_.threshold = rate;
  }

  ConfigParser& parser_;
  AutomationRule& rule_;
  bool has_regex_ = false;
  bool has_action_ = false;
  bool has_duration_ = false;
};

}  // namespace

void ParseAutomationRules(const toml::node& value, ConfigParser& parser,
                          std::vector<AutomationRule>* rules) {
  const toml::array* list = value.as_array();
  if (list == nullptr) {
    parser.AddError(value, absl::StrCat(kWhat,
                                        ": write each rule as a [[shaping.automation]] "
                                        "table"));
    return;
  }
  for (const toml::node& node : *list) {
    const toml::table* table = parser.ExpectTable(node, kWhat);
    if (table == nullptr) continue;
    AutomationRule rule;
    rule.line = table->source().begin.line;
    rule.origin = absl::StrCat(parser.origin(), ":", rule.line);
    RuleReader(parser, rule).Read(*table);
    rules->push_back(std::move(rule));
  }
}

absl::StatusOr<std::vector<AutomationRule>> ParseAutomationText(absl::string_view toml_text,
                                                                absl::string_view origin) {
  ConfigParser parser(origin);
  toml::parse_result result = toml::parse(std::string_view(toml_text.data(), toml_text.size()),
                                          std::string_view(origin.data(), origin.size()));
  if (!result) {
    parser.AddError(result.error().source().begin.line,
                    absl::StrCat("TOML syntax error: ", AsAbsl(result.error().description())));
    return parser.Finish();
  }
  std::vector<AutomationRule> rules;
  const toml::node* shaping = result.table().get("shaping");
  const toml::node* automation =
      shaping != nullptr && shaping->is_table() ? shaping->as_table()->get("automation") : nullptr;
  if (automation == nullptr) {
    parser.AddError(0, "no [[shaping.automation]] rules");
  } else {
    ParseAutomationRules(*automation, parser, &rules);
  }
  if (absl::Status s = parser.Finish(); !s.ok()) return s;
  return rules;
}

}  // namespace volley::config
