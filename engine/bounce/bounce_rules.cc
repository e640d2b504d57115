#include "engine/bounce/bounce_rules.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/logging.h"
#include "engine/bounce/bounce_rules_data.h"
#include "re2/re2.h"
#include "re2/set.h"
#include "toml++/toml.h"

namespace volley::bounce {
namespace {

absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

RE2::Options PatternOptions() {
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  options.set_never_capture(true);
  return options;
}

// "D.D.D" (class 2, 4 or 5; subject and detail of 1 to 3 digits), with "*" allowed where
// `wildcards`: then "X.Y.*" and "*.Y.*" only.
bool ValidCode(absl::string_view key, bool wildcards) {
  const std::vector<absl::string_view> parts = absl::StrSplit(key, '.');
  if (parts.size() != 3) return false;
  auto number = [](absl::string_view p, int max_digits) {
    int n = 0;
    return !p.empty() && static_cast<int>(p.size()) <= max_digits &&
           std::all_of(p.begin(), p.end(), absl::ascii_isdigit) && absl::SimpleAtoi(p, &n);
  };
  const bool klass = parts[0] == "2" || parts[0] == "4" || parts[0] == "5";
  if (!wildcards || parts[2] != "*") return klass && number(parts[1], 3) && number(parts[2], 3);
  return (klass || parts[0] == "*") && number(parts[1], 3);
}

// A fallback key: a code (with wildcards), a basic code "NNN", or "4xx" / "5xx".
bool ValidFallback(absl::string_view key) {
  if (key == "4xx" || key == "5xx") return true;
  int code = 0;
  if (key.size() == 3 && absl::SimpleAtoi(key, &code)) return code >= 400 && code <= 599;
  return ValidCode(key, /*wildcards=*/true);
}

// Problems of one file, each with its line.
class Problems {
 public:
  explicit Problems(absl::string_view origin) : origin_(origin) {}
  void Add(const toml::source_region& at, absl::string_view message) {
    lines_.push_back(absl::StrCat(origin_, ":", at.begin.line, ": ", message));
  }
  bool empty() const { return lines_.empty(); }
  absl::Status Status() const { return absl::InvalidArgumentError(absl::StrJoin(lines_, "\n")); }

 private:
  std::string origin_;
  std::vector<std::string> lines_;
};

std::optional<BounceClass> ReadClass(const toml::node& node, absl::string_view what,
                                     Problems& problems) {
  const std::optional<std::string> name = node.value<std::string>();
  std::optional<BounceClass> parsed =
      name.has_value() ? ParseBounceClass(*name) : std::optional<BounceClass>();
  if (!parsed.has_value()) {
    problems.Add(node.source(), absl::StrCat(what,
                                             ": expected one of the 29 bounce class names "
                                             "(\"InvalidRecipient\", ...), got ",
                                             name.has_value() ? "\"" + *name + "\"" : "no string"));
  }
  return parsed;
}

// [codes] or [fallback]: keys checked by `valid`, described by `form`.
void ReadCodeTable(const toml::node& node, absl::string_view table_name,
                   bool (*valid)(absl::string_view), absl::string_view form, Problems& problems,
                   absl::flat_hash_map<std::string, BounceClass>* out) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    problems.Add(node.source(), absl::StrCat("[", table_name, "] must be a table"));
    return;
  }
  for (auto&& [key, value] : *table) {
    const std::string code(AsAbsl(key.str()));
    if (!valid(code)) {
      problems.Add(key.source(),
                   absl::StrCat("[", table_name, "] \"", code, "\": expected ", form));
      continue;
    }
    std::optional<BounceClass> c =
        ReadClass(value, absl::StrCat("[", table_name, "] \"", code, "\""), problems);
    if (c.has_value()) (*out)[code] = *c;
  }
}

}  // namespace

absl::StatusOr<BounceRules> BounceRules::Parse(absl::string_view text, absl::string_view origin) {
  Problems problems(origin);
  toml::parse_result parsed = toml::parse(std::string_view(text.data(), text.size()),
                                          std::string_view(origin.data(), origin.size()));
  if (!parsed) {
    problems.Add(parsed.error().source(),
                 absl::StrCat("TOML syntax error: ", AsAbsl(parsed.error().description())));
    return problems.Status();
  }
  BounceRules rules;
  const RE2::Options options = PatternOptions();
  for (auto&& [key, value] : parsed.table()) {
    const absl::string_view name = AsAbsl(key.str());
    if (name == "codes") {
      ReadCodeTable(
          value, "codes", [](absl::string_view k) { return ValidCode(k, false); },
          "an enhanced status code such as \"5.1.1\"", problems, &rules.codes_);
    } else if (name == "fallback") {
      ReadCodeTable(value, "fallback", ValidFallback,
                    "\"X.Y.Z\", \"X.Y.*\", \"*.Y.*\", a code such as \"550\", \"4xx\" or \"5xx\"",
                    problems, &rules.fallback_);
    } else if (name == "rule") {
      const toml::array* array = value.as_array();
      if (array == nullptr) {
        problems.Add(value.source(), "rule must be an array of tables: [[rule]]");
        continue;
      }
      for (const toml::node& element : *array) {
        const toml::table* rule = element.as_table();
        if (rule == nullptr) {
          problems.Add(element.source(), "[[rule]] must be a table");
          continue;
        }
        std::optional<BounceClass> c;
        std::vector<std::string> patterns;
        bool has_class = false, has_regex = false;
        for (auto&& [field, field_value] : *rule) {
          if (field.str() == "class") {
            has_class = true;
            c = ReadClass(field_value, "[[rule]] class", problems);
          } else if (field.str() == "regex") {
            has_regex = true;
            const toml::array* list = field_value.as_array();
            if (list == nullptr || list->empty()) {
              problems.Add(field_value.source(),
                           "[[rule]] regex: expected a non-empty array of strings");
              continue;
            }
            for (const toml::node& r : *list) {
              const std::optional<std::string> pattern = r.value<std::string>();
              if (!pattern.has_value()) {
                problems.Add(r.source(), "[[rule]] regex: expected a string");
                continue;
              }
              const RE2 re(*pattern, options);
              if (!re.ok()) {
                problems.Add(r.source(), absl::StrCat("[[rule]] regex \"", *pattern,
                                                      "\" is not a valid RE2 regex: ", re.error()));
                continue;
              }
              patterns.push_back(*pattern);
            }
          } else {
            problems.Add(field.source(),
                         absl::StrCat("unknown key '", AsAbsl(field.str()), "' in [[rule]]"));
          }
        }
        if (!has_class) problems.Add(element.source(), "[[rule]]: missing key 'class'");
        if (!has_regex) problems.Add(element.source(), "[[rule]]: missing key 'regex'");
        if (!c.has_value()) continue;
        for (std::string& p : patterns) rules.rules_.push_back(TextRule{std::move(p), *c});
      }
    } else {
      problems.Add(key.source(), absl::StrCat("unknown key '", name,
                                              "' (a bounce rules file has [codes], [[rule]] "
                                              "and [fallback])"));
    }
  }
  if (!problems.empty()) return problems.Status();
  rules.Compile();
  return rules;
}

void BounceRules::Compile() {
  if (rules_.empty()) {
    set_.reset();
    return;
  }
  auto set = std::make_shared<RE2::Set>(PatternOptions(), RE2::UNANCHORED);
  for (const TextRule& rule : rules_) {
    std::string error;
    // Each pattern compiled alone in Parse; together they only share the options.
    const int index = set->Add(rule.pattern, &error);
    CHECK(index >= 0) << rule.pattern << ": " << error;
  }
  CHECK(set->Compile()) << "bounce rules: the regex set is too large";
  set_ = std::move(set);
}

const BounceRules& BounceRules::Shipped() {
  static const BounceRules* const shipped = [] {
    absl::StatusOr<BounceRules> rules = Parse(kShippedBounceRulesToml, "bounce_rules.toml");
    CHECK(rules.ok()) << rules.status();  // bounce_rules_test parses it too
    return new BounceRules(*std::move(rules));
  }();
  return *shipped;
}

BounceRules BounceRules::Layer(const BounceRules& base, const BounceRules& over) {
  BounceRules layered = base;
  for (const auto& [code, c] : over.codes_) layered.codes_[code] = c;
  for (const auto& [key, c] : over.fallback_) layered.fallback_[key] = c;
  layered.rules_ = over.rules_;
  layered.rules_.insert(layered.rules_.end(), base.rules_.begin(), base.rules_.end());
  layered.Compile();
  return layered;
}

BounceClass BounceRules::Classify(const smtp::Reply& reply) const {
  std::string enhanced;
  if (reply.enhanced.has_value()) {
    enhanced = reply.enhanced->ToString();
    if (auto it = codes_.find(enhanced); it != codes_.end()) return it->second;
  }
  if (set_ != nullptr) {
    const std::string text = reply.Summary();
    std::vector<int> matched;
    if (set_->Match(text, &matched) && !matched.empty()) {
      return rules_[*std::min_element(matched.begin(), matched.end())].bounce_class;
    }
  }
  auto fallback = [this](const std::string& key) -> std::optional<BounceClass> {
    auto it = fallback_.find(key);
    if (it == fallback_.end()) return std::nullopt;
    return it->second;
  };
  if (reply.enhanced.has_value()) {
    const smtp::EnhancedCode& e = *reply.enhanced;
    for (const std::string& key : {enhanced, absl::StrCat(e.klass, ".", e.subject, ".*"),
                                   absl::StrCat("*.", e.subject, ".*")}) {
      if (std::optional<BounceClass> c = fallback(key)) return *c;
    }
  }
  if (std::optional<BounceClass> c = fallback(absl::StrCat(reply.code))) return *c;
  if (std::optional<BounceClass> c = fallback(absl::StrCat(reply.code / 100, "xx"))) return *c;
  return BounceClass::kUncategorized;
}

}  // namespace volley::bounce
