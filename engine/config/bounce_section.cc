// [bounce]; see bounce_section.h.
#include "engine/config/bounce_section.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/bounce/bounce_class.h"
#include "engine/bounce/bounce_rules.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

void ReadRulesFile(const toml::node& value, ConfigParser& parser, BounceConfig& bounce) {
  std::optional<std::string> path = parser.ReadString(value, "[bounce] rules");
  if (!path.has_value()) return;
  if (path->empty()) {
    parser.AddError(value, "[bounce] rules: expected the path of a rules file");
    return;
  }
  std::ifstream in(*path, std::ios::binary);
  if (!in) {
    parser.AddError(
        value, absl::StrCat("[bounce] rules: cannot read \"", *path, "\": ", std::strerror(errno)));
    return;
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<bounce::BounceRules> rules = bounce::BounceRules::Parse(text.str(), *path);
  if (!rules.ok()) {
    for (absl::string_view line : absl::StrSplit(rules.status().message(), '\n')) {
      parser.AddError(value, absl::StrCat("[bounce] rules: ", line));
    }
    return;
  }
  bounce.rules_path = *std::move(path);
  bounce.rules = std::make_shared<const bounce::BounceRules>(
      bounce::BounceRules::Layer(bounce::BounceRules::Shipped(), *rules));
}

}  // namespace

void ReadSuppressClasses(const toml::node& value, ConfigParser& parser, BounceConfig& bounce) {
  const toml::array* array = value.as_array();
  if (array == nullptr) {
    parser.AddError(value, absl::StrCat("[bounce] suppress_classes: expected an array of bounce "
                                        "class names, got ",
                                        TypeName(value)));
    return;
  }
  std::vector<bounce::BounceClass> classes;
  bool ok = true;
  for (const toml::node& element : *array) {
    std::optional<std::string> name = parser.ReadString(element, "[bounce] suppress_classes");
    if (!name.has_value()) {
      ok = false;
      continue;
    }
    std::optional<bounce::BounceClass> c = bounce::ParseBounceClass(*name);
    if (!c.has_value()) {
      parser.AddError(element, absl::StrCat("[bounce] suppress_classes: \"", *name,
                                            "\" is not one of the 29 bounce classes"));
      ok = false;
      continue;
    }
    classes.push_back(*c);
  }
  if (ok) bounce.suppress_classes = std::move(classes);
}

void ParseBounceSection(const toml::table& table, ConfigParser& parser, Config& config) {
  BounceConfig& bounce = config.bounce;
  parser.Walk(
      table, "bounce",
      {{"rules", [&](const toml::node& v) { ReadRulesFile(v, parser, bounce); }},
       {"suppress_classes", [&](const toml::node& v) { ReadSuppressClasses(v, parser, bounce); }},
       {"suppress_for",
        [&](const toml::node& v) {
          // "": until removed.
          if (auto d = parser.ReadDurationOrEmpty(v, "[bounce] suppress_for",
                                                  absl::InfiniteDuration())) {
            bounce.suppress_for = *d;
          }
        }},
       {"verp_domain",
        [&](const toml::node& v) {
          std::optional<std::string> s = parser.ReadString(v, "[bounce] verp_domain");
          if (!s.has_value()) return;
          if (!s->empty() && !IsDomainName(*s)) {
            parser.AddError(
                v, absl::StrCat("[bounce] verp_domain: \"", *s, "\" is not a valid host name"));
            return;
          }
          bounce.verp_domain = absl::AsciiStrToLower(*s);
        }},
       {"verp_secret",
        [&](const toml::node& v) {
          std::optional<std::string> s = parser.ReadString(v, "[bounce] verp_secret");
          if (!s.has_value()) return;
          if (!s->empty() && s->size() < 16) {
            parser.AddError(v, "[bounce] verp_secret: at least 16 characters");
            return;
          }
          bounce.verp_secret = *std::move(s);
        }}},
      {});
}

}  // namespace volley::config
