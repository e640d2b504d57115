// [shaping.*]; see shaping_section.h and shaping_rules.h.
#include "engine/config/shaping_section.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "engine/config/automation_section.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

// What a table is, for the keys it may hold beyond the shaping keys.
enum class TableKind { kDefault, kProvider, kSite, kDomain, kSource };

// The state of one [shaping] section's parse.
struct ShapingParse {
  ConfigParser& parser;
  Config& config;
  // A named shared budget has one limit wherever it is written: name -> (limit, first line).
  absl::flat_hash_map<std::string, std::pair<std::string, uint32_t>> named_limits;
};

// Reads the keys of one [shaping.*] table into a layer.
class LayerReader {
 public:
  LayerReader(ShapingParse& parse, std::string table_name, TableKind kind, ShapingLayer& layer)
      : parse_(parse),
        parser_(parse.parser),
        table_name_(std::move(table_name)),
        prefix_(absl::StrCat("[", table_name_, "] ")),
        kind_(kind),
        layer_(layer) {
    layer_.table = absl::StrCat("[", table_name_, "]");
  }

  // Walks `table`; `extra` handles the keys of its kind (match, source).
  void Read(const toml::table& table, std::vector<ConfigParser::Field> extra) {
    std::vector<ConfigParser::Field> fields = ShapingFields();
    for (ConfigParser::Field& field : extra) fields.push_back(std::move(field));
    parser_.Walk(table, table_name_, fields, {});
  }

 private:
  void Set(const toml::node& at, absl::string_view key, std::function<void(ShapingConfig&)> apply) {
    layer_.settings.push_back(
        ShapingSetting{std::string(key), at.source().begin.line, std::move(apply)});
  }

  ConfigParser::Field Positive(absl::string_view key, int ShapingConfig::*field) {
    return {key, [this, key, field](const toml::node& v) {
              if (auto n = parser_.ReadInteger(v, absl::StrCat(prefix_, key), 1,
                                               std::numeric_limits<int>::max())) {
                const int value = static_cast<int>(*n);
                Set(v, key, [field, value](ShapingConfig& c) { c.*field = value; });
              }
            }};
  }

  ConfigParser::Field Timeout(absl::string_view key, absl::Duration SmtpTimeouts::*field) {
    return {key, [this, key, field](const toml::node& v) {
              if (auto d = parser_.ReadDuration(v, absl::StrCat(prefix_, key))) {
                const absl::Duration value = *d;
                Set(v, key, [field, value](ShapingConfig& c) { c.timeouts.*field = value; });
              }
            }};
  }

  ConfigParser::Field RateKey(absl::string_view key, std::optional<Rate> ShapingConfig::*field) {
    return {key, [this, key, field](const toml::node& v) {
              std::optional<Rate> value;
              if (parser_.ReadRate(v, absl::StrCat(prefix_, key), &value)) {
                Set(v, key, [field, value](ShapingConfig& c) { c.*field = value; });
              }
            }};
  }

  std::vector<ConfigParser::Field> ShapingFields();
  void ReadNamedConnectionLimits(const toml::node& v);
  void ReadNamedRates(const toml::node& v);
  // False (and reported) when `name` was given another limit elsewhere in the file.
  bool SameNamedLimit(const toml::node& at, const std::string& name, const std::string& limit);

  ShapingParse& parse_;
  ConfigParser& parser_;
  const std::string table_name_;
  const std::string prefix_;
  const TableKind kind_;
  ShapingLayer& layer_;
};

std::vector<ConfigParser::Field> LayerReader::ShapingFields() {
  using C = ShapingConfig;
  using T = SmtpTimeouts;
  std::vector<ConfigParser::Field> fields = {
      Positive("connection_limit", &C::connection_limit),
      Positive("max_deliveries_per_connection", &C::max_deliveries_per_connection),
      Positive("max_recipients_per_batch", &C::max_recipients_per_batch),
      RateKey("max_message_rate", &C::max_message_rate),
      RateKey("max_connection_rate", &C::max_connection_rate),
      Timeout("connect_timeout", &T::connect),
      Timeout("banner_timeout", &T::banner),
      Timeout("ehlo_timeout", &T::ehlo),
      Timeout("mail_from_timeout", &T::mail_from),
      Timeout("rcpt_to_timeout", &T::rcpt_to),
      Timeout("data_timeout", &T::data),
      Timeout("data_dot_timeout", &T::data_dot),
      Timeout("idle_timeout", &T::idle),
  };
  fields.push_back({"tls", [this](const toml::node& v) {
                      if (auto policy = parser_.ReadTlsPolicy(v, prefix_ + "tls", false)) {
                        const TlsPolicy value = *policy;
                        Set(v, "tls", [value](C& c) { c.tls = value; });
                      }
                    }});
  fields.push_back({"tls_ca_file", [this](const toml::node& v) {
                      if (auto s = parser_.ReadString(v, prefix_ + "tls_ca_file")) {
                        std::string value = *std::move(s);
                        Set(v, "tls_ca_file", [value](C& c) { c.tls_ca_file = value; });
                      }
                    }});
  fields.push_back({"egress_pool", [this](const toml::node& v) {
                      if (kind_ == TableKind::kSource) {
                        parser_.AddError(v, prefix_ +
                                                "egress_pool: cannot be set per egress source "
                                                "(the pool is what chooses the source)");
                        return;
                      }
                      if (auto s = parser_.ReadString(v, prefix_ + "egress_pool")) {
                        parser_.cross_section().pool_lines.emplace_back(*s, v.source().begin.line);
                        std::string value = *std::move(s);
                        Set(v, "egress_pool", [value](C& c) { c.egress_pool = value; });
                      }
                    }});
  fields.push_back({"adaptive", [this](const toml::node& v) {
                      const std::optional<bool> value =
                          parser_.ReadBool(v, absl::StrCat(prefix_, "adaptive"));
                      if (!value.has_value()) return;
                      Set(v, "adaptive", [value = *value](C& c) { c.adaptive = value; });
                    }});
  fields.push_back(Positive("adaptive_min_connections", &C::adaptive_min_connections));
  fields.push_back({"adaptive_decrease_factor", [this](const toml::node& v) {
                      const std::optional<double> f = v.value<double>();
                      if (!f.has_value() || !(*f > 0 && *f < 1)) {
                        parser_.AddError(v, prefix_ +
                                                "adaptive_decrease_factor: expected a number "
                                                "between 0 and 1 (exclusive), such as 0.5");
                        return;
                      }
                      const double value = *f;
                      Set(v, "adaptive_decrease_factor",
                          [value](C& c) { c.adaptive_decrease_factor = value; });
                    }});
  fields.push_back({"additional_connection_limits",
                    [this](const toml::node& v) { ReadNamedConnectionLimits(v); }});
  fields.push_back(
      {"additional_message_rate_throttles", [this](const toml::node& v) { ReadNamedRates(v); }});
  return fields;
}

bool LayerReader::SameNamedLimit(const toml::node& at, const std::string& name,
                                 const std::string& limit) {
  const auto [it, inserted] = parse_.named_limits.try_emplace(name, limit, at.source().begin.line);
  if (inserted || it->second.first == limit) return true;
  parser_.AddError(at, absl::StrCat(prefix_, "shared limit \"", name, "\" is ", limit, " here but ",
                                    it->second.first, " at line ", it->second.second,
                                    " (a shared limit is one budget: give it one value)"));
  return false;
}

void LayerReader::ReadNamedConnectionLimits(const toml::node& v) {
  const std::string what = prefix_ + "additional_connection_limits";
  const toml::table* table = parser_.ExpectTable(v, what);
  if (table == nullptr) return;
  for (auto&& [key, value] : *table) {
    const std::string name(AsAbsl(key.str()));
    auto n = parser_.ReadInteger(value, absl::StrCat(what, " \"", name, "\""), 1,
                                 std::numeric_limits<int>::max());
    if (!n.has_value() ||
        !SameNamedLimit(value, absl::StrCat("connections:", name), absl::StrCat(*n))) {
      continue;
    }
    const int limit = static_cast<int>(*n);
    Set(value, "additional_connection_limits",
        [name, limit](ShapingConfig& c) { c.additional_connection_limits[name] = limit; });
  }
}

void LayerReader::ReadNamedRates(const toml::node& v) {
  const std::string what = prefix_ + "additional_message_rate_throttles";
  const toml::table* table = parser_.ExpectTable(v, what);
  if (table == nullptr) return;
  for (auto&& [key, value] : *table) {
    const std::string name(AsAbsl(key.str()));
    std::optional<Rate> rate;
    if (!parser_.ReadRate(value, absl::StrCat(what, " \"", name, "\""), &rate)) continue;
    if (!rate.has_value()) {
      parser_.AddError(value, absl::StrCat(what, " \"", name,
                                           "\": a shared throttle needs a rate (\"\" is no limit: "
                                           "leave the name out instead)"));
      continue;
    }
    if (!SameNamedLimit(value, absl::StrCat("messages:", name), rate->ToString())) continue;
    const Rate limit = *rate;
    Set(value, "additional_message_rate_throttles",
        [name, limit](ShapingConfig& c) { c.additional_message_rate_throttles[name] = limit; });
  }
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

// "MXSuffix=.google.com" and its kin.
std::optional<ProviderMatch> ParseProviderMatch(const toml::node& node, absl::string_view what,
                                                ConfigParser& parser) {
  std::optional<std::string> text = parser.ReadString(node, what);
  if (!text.has_value()) return std::nullopt;
  static constexpr std::pair<absl::string_view, ProviderMatch::Kind> kKinds[] = {
      {"MXSuffix=", ProviderMatch::Kind::kMxSuffix},
      {"DomainSuffix=", ProviderMatch::Kind::kDomainSuffix},
      {"HostName=", ProviderMatch::Kind::kHostName},
  };
  for (const auto& [prefix, kind] : kKinds) {
    if (!absl::StartsWith(*text, prefix)) continue;
    std::string value = Lower(absl::string_view(*text).substr(prefix.size()));
    const absl::string_view name = absl::StripPrefix(value, ".");
    if (!IsDomainName(name)) {
      parser.AddError(node, absl::StrCat(what, ": \"", *text, "\": \"", value,
                                         "\" is not a host name or a suffix of one"));
      return std::nullopt;
    }
    return ProviderMatch{kind, std::move(value)};
  }
  parser.AddError(node, absl::StrCat(what, ": unknown provider matcher \"", *text,
                                     "\" (use MXSuffix=, DomainSuffix= or HostName=)"));
  return std::nullopt;
}

void ParseProvider(const toml::key& key, const toml::node& value, ShapingParse& parse) {
  const std::string table_name = absl::StrCat("shaping.provider.", QuoteKey(key.str()));
  const toml::table* table = parse.parser.ExpectTable(value, absl::StrCat("[", table_name, "]"));
  if (table == nullptr) return;
  ShapingProvider provider;
  provider.name = std::string(AsAbsl(key.str()));
  provider.layer.line = key.source().begin.line;
  bool has_match = false;
  LayerReader reader(parse, table_name, TableKind::kProvider, provider.layer);
  reader.Read(*table, {{"match", [&](const toml::node& v) {
                          has_match = true;
                          const std::string what = absl::StrCat("[", table_name, "] match");
                          const toml::array* array = v.as_array();
                          if (array == nullptr || array->empty()) {
                            parse.parser.AddError(
                                v, what +
                                       ": expected a non-empty array like "
                                       "[\"MXSuffix=.google.com\", \"DomainSuffix=.gmail.com\"]");
                            return;
                          }
                          for (const toml::node& element : *array) {
                            if (auto m = ParseProviderMatch(element, what, parse.parser)) {
                              provider.match.push_back(*std::move(m));
                            }
                          }
                        }}});
  if (!has_match) {
    parse.parser.AddError(key, absl::StrCat("[", table_name,
                                            "]: missing key 'match' (which sites the provider "
                                            "takes, e.g. [\"MXSuffix=.google.com\"])"));
  }
  parse.config.shaping.providers.push_back(std::move(provider));
}

void ParseSite(const toml::key& key, const toml::node& value, ShapingParse& parse) {
  const std::string table_name = absl::StrCat("shaping.site.", QuoteKey(key.str()));
  const toml::table* table = parse.parser.ExpectTable(value, absl::StrCat("[", table_name, "]"));
  if (table == nullptr) return;
  ShapingSiteGlob site;
  site.pattern = Lower(AsAbsl(key.str()));
  // With every '*' as one letter the pattern must be a host name: otherwise no MX host name
  // can ever match it.
  if (!IsDomainName(absl::StrReplaceAll(site.pattern, {{"*", "a"}}))) {
    parse.parser.AddError(key,
                          absl::StrCat("[", table_name, "]: \"", site.pattern,
                                       "\" matches no host name (write an MX host name, "
                                       "'*' for any run of characters: \"*.mx.example.net\")"));
    return;
  }
  site.layer.line = key.source().begin.line;
  LayerReader(parse, table_name, TableKind::kSite, site.layer).Read(*table, {});
  parse.config.shaping.sites.push_back(std::move(site));
}

// [shaping.source."NAME"] or [shaping."domain".source."NAME"]: `sources` is the table of them.
void ParseSources(const toml::node& sources, const std::string& owner_name, ShapingParse& parse,
                  absl::flat_hash_map<std::string, ShapingLayer>& into) {
  const toml::table* table =
      parse.parser.ExpectTable(sources, absl::StrCat("[", owner_name, ".source]"));
  if (table == nullptr) return;
  for (auto&& [key, value] : *table) {
    const std::string table_name = absl::StrCat(owner_name, ".source.", QuoteKey(key.str()));
    const toml::table* source = parse.parser.ExpectTable(value, absl::StrCat("[", table_name, "]"));
    if (source == nullptr) continue;
    const std::string name(AsAbsl(key.str()));
    parse.parser.cross_section().source_lines.emplace_back(name, key.source().begin.line);
    ShapingLayer& layer = into[name];
    layer.line = key.source().begin.line;
    LayerReader(parse, table_name, TableKind::kSource, layer).Read(*source, {});
  }
}

void ParseDomain(const toml::key& key, const toml::table& table, ShapingParse& parse) {
  const std::string table_name = absl::StrCat("shaping.", QuoteKey(key.str()));
  const std::string what = absl::StrCat("[", table_name, "]");
  const absl::string_view name = AsAbsl(key.str());
  const std::string domain = Lower(name);
  if (!IsDomainName(domain)) {
    parse.parser.AddError(key, absl::StrCat(what, ": \"", name, "\" is not a valid domain name"));
    return;
  }
  auto& domains = parse.config.shaping.domains;
  if (domains.contains(domain)) {
    parse.parser.AddError(key, absl::StrCat(what, ": duplicate (domains are case-insensitive)"));
    return;
  }
  ShapingDomain& entry = domains[domain];
  entry.layer.line = key.source().begin.line;
  LayerReader(parse, table_name, TableKind::kDomain, entry.layer)
      .Read(table, {{"source", [&](const toml::node& v) {
                       ParseSources(v, table_name, parse, entry.sources);
                     }}});
}

// The tables of [shaping.provider] or [shaping.site].
void ForEachNamed(const toml::node& value, absl::string_view what, ShapingParse& parse,
                  void (*each)(const toml::key&, const toml::node&, ShapingParse&)) {
  const toml::table* table = parse.parser.ExpectTable(value, what);
  if (table == nullptr) return;
  for (auto&& [key, sub] : *table) each(key, sub, parse);
}

template <typename T>
void SortByLine(std::vector<T>& v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const T& a, const T& b) { return a.layer.line < b.layer.line; });
}

}  // namespace

void ParseShapingSection(const toml::table& table, ConfigParser& parser, Config& config) {
  ShapingParse parse{parser, config, {}};
  // [shaping.default] first, wherever it is: every other table applies over it.
  if (const toml::node* node = table.get("default")) {
    if (const toml::table* shaping = parser.ExpectTable(*node, "[shaping.default]")) {
      ShapingLayer layer;
      LayerReader(parse, "shaping.default", TableKind::kDefault, layer).Read(*shaping, {});
      layer.ApplyTo(config.shaping.defaults);
    }
  }
  for (auto&& [key, value] : table) {
    const absl::string_view name = AsAbsl(key.str());
    if (name == "default") continue;
    if (name == "automation") {
      ParseAutomationRules(value, parser, &config.shaping.automation);
    } else if (name == "default_automation") {
      if (std::optional<bool> b = parser.ReadBool(value, "[shaping] default_automation")) {
        config.shaping.default_automation = *b;
      }
    } else if (name == "provider") {
      ForEachNamed(value, "[shaping.provider]", parse, ParseProvider);
    } else if (name == "site") {
      ForEachNamed(value, "[shaping.site]", parse, ParseSite);
    } else if (name == "source") {
      ParseSources(value, "shaping", parse, config.shaping.sources);
    } else if (value.is_table() && absl::StrContains(name, '.')) {
      // A domain (domains have dots; a bare word is far more likely a misspelt "default").
      ParseDomain(key, *value.as_table(), parse);
    } else if (value.is_table()) {
      parser.AddError(key, absl::StrCat("unknown table [shaping.", QuoteKey(key.str()), "]"));
    } else {
      parser.AddError(key, absl::StrCat("unknown key '", name,
                                        "' in [shaping] (default limits go in [shaping.default]; "
                                        "[shaping] itself takes only default_automation)"));
    }
  }
  // Providers are tried, and site tables applied, in the order they are written.
  SortByLine(config.shaping.providers);
  SortByLine(config.shaping.sites);
  for (const AutomationRule& rule : config.shaping.automation) {
    if (rule.provider.empty()) continue;
    const bool known =
        std::any_of(config.shaping.providers.begin(), config.shaping.providers.end(),
                    [&](const ShapingProvider& p) { return p.name == rule.provider; });
    if (!known) {
      parser.AddError(rule.line, absl::StrCat("[[shaping.automation]] provider: no "
                                              "[shaping.provider.",
                                              QuoteKey(rule.provider), "] table"));
    }
  }
}

}  // namespace volley::config
