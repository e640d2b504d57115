// The [shaping] tables as written, and how they resolve to the limits of one destination.
//
// Merge order, each later table overriding the earlier ones key by key:
//   [shaping.default]
//   -> [shaping.provider."NAME"]   the first provider (in file order) whose `match` takes the
//                                  destination
//   -> [shaping.site."GLOB"]       every glob matching one of the site's MX host names, in file
//                                  order
//   -> [shaping."domain"]
//   -> [shaping.source."NAME"]     for connections from that egress source
//   -> [shaping."domain".source."NAME"]
// Named shared budgets (additional_connection_limits, additional_message_rate_throttles) merge
// by name the same way. A provider's own connection_limit, max_message_rate and
// max_connection_rate are, besides the per-site values they set, one budget shared by every
// site the provider takes (as KumoMTA's provider_connection_limit).
#ifndef VOLLEY_ENGINE_CONFIG_SHAPING_RULES_H_
#define VOLLEY_ENGINE_CONFIG_SHAPING_RULES_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/config/shaping_types.h"

namespace volley::config {

// One key of a [shaping.*] table as written, ready to apply over a ShapingConfig.
struct ShapingSetting {
  std::string key;  // "connection_limit"
  uint32_t line = 0;
  std::function<void(ShapingConfig&)> apply;
};

// The keys one [shaping.*] table sets, in the order written.
struct ShapingLayer {
  std::string table;  // as messages and read-outs name it: "[shaping.provider.\"google\"]"
  uint32_t line = 0;  // of the table's header (0 for an implicit one)
  std::vector<ShapingSetting> settings;

  void ApplyTo(ShapingConfig& config) const;
  bool Sets(absl::string_view key) const;
};

// One entry of a provider's `match`.
struct ProviderMatch {
  enum class Kind {
    kMxSuffix,      // "MXSuffix=.google.com": every MX host name ends with it
    kDomainSuffix,  // "DomainSuffix=.gmail.com": the recipient domain ends with it
    kHostName,      // "HostName=mx.example.com": one of the MX host names is this
  };
  Kind kind = Kind::kMxSuffix;
  std::string value;  // lower-case
};

struct ShapingProvider {
  std::string name;
  std::vector<ProviderMatch> match;  // any one takes the destination
  ShapingLayer layer;
};

struct ShapingSiteGlob {
  std::string pattern;  // lower-case; '*' matches any run of characters, dots included
  ShapingLayer layer;
};

struct ShapingDomain {
  ShapingLayer layer;
  absl::flat_hash_map<std::string, ShapingLayer> sources;  // [shaping."domain".source."NAME"]
};

// One action of a [[shaping.automation]] rule.
struct AutomationAction {
  enum class Kind { kSuspend, kSuspendTenant, kSuspendCampaign, kBounce, kSetConfig };
  Kind kind = Kind::kSuspend;
  // kSetConfig: the shaping key it overrides and the value, an integer (connection_limit,
  // max_deliveries_per_connection, max_recipients_per_batch) or a rate (max_message_rate,
  // max_connection_rate; nullopt: no limit).
  std::string name;
  int int_value = 0;
  std::optional<Rate> rate_value;
  friend bool operator==(const AutomationAction&, const AutomationAction&) = default;
};

// [[shaping.automation]]: what to do when a site's replies match (adaptive/response_rules.h).
struct AutomationRule {
  std::string origin;  // "volley.toml:14": where it was written
  uint32_t line = 0;
  std::vector<std::string> regex;  // RE2, checked when read; any one matches
  std::vector<AutomationAction> actions;
  // Immediate (nullopt), or "fire at the quantity-th match within the period".
  std::optional<Rate> threshold;
  absl::Duration duration = absl::ZeroDuration();
  std::string provider;  // only sites this [shaping.provider] takes ("" = any)
  std::string domain;    // only replies about mail to this domain ("" = any)
  friend bool operator==(const AutomationRule&, const AutomationRule&) = default;
};

struct ShapingRules {
  ShapingConfig defaults;                  // [shaping.default] over the built-in defaults
  std::vector<ShapingProvider> providers;  // file order
  std::vector<ShapingSiteGlob> sites;      // file order
  absl::flat_hash_map<std::string, ShapingDomain> domains;  // lower-case domain
  absl::flat_hash_map<std::string, ShapingLayer> sources;   // egress source name
  // [[shaping.automation]] in file order, and whether the shipped rules (adaptive/
  // default_automation.toml) come before them ([shaping] default_automation).
  std::vector<AutomationRule> automation;
  bool default_automation = true;

  // The provider that takes `domain` delivered to `mx_hosts` (lower-case host names), or null.
  const ShapingProvider* ProviderFor(absl::string_view domain,
                                     const std::vector<std::string>& mx_hosts) const;
  // The limits for `domain` (lower-case) delivered to a site of `mx_hosts`, from the egress
  // source named `source` ("" for what is not per source), with `provider` and
  // `shared_limits` filled in. Every table that applied is appended to `applied` when given.
  ShapingConfig Resolve(absl::string_view domain, const std::vector<std::string>& mx_hosts,
                        absl::string_view source,
                        std::vector<const ShapingLayer*>* applied = nullptr) const;
  // True when `domain` has tables of its own ([shaping."domain"] or its .source tables), so it
  // keeps a site queue of its own.
  bool HasDomainTables(absl::string_view domain) const { return domains.contains(domain); }
};

// True when `glob` matches `name` ('*' matches any run of characters, dots included).
bool GlobMatches(absl::string_view glob, absl::string_view name);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_SHAPING_RULES_H_
