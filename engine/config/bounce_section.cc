// [bounce]; see bounce_section.h.
#include "engine/config/bounce_section.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/bounce/bounce_rules.h"

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

void ParseBounceSection(const toml::table& table, ConfigParser& parser, Config& config) {
  parser.Walk(table, "bounce",
              {{"rules", [&](const toml::node& v) { ReadRulesFile(v, parser, config.bounce); }}},
              {"verp_domain", "suppress_classes"});
}

}  // namespace volley::config
