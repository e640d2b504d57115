// See shaping_rules.h.
#include "engine/config/shaping_rules.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace volley::config {
namespace {

bool ProviderMatches(const ProviderMatch& match, absl::string_view domain,
                     const std::vector<std::string>& mx_hosts) {
  // A suffix written with its leading dot (".gmail.com") also takes the name itself
  // ("gmail.com"): that is what an operator means by it.
  auto has_suffix = [&match](absl::string_view name) {
    return absl::EndsWith(name, match.value) ||
           (absl::StartsWith(match.value, ".") && name == match.value.substr(1));
  };
  switch (match.kind) {
    case ProviderMatch::Kind::kMxSuffix:
      return !mx_hosts.empty() && std::all_of(mx_hosts.begin(), mx_hosts.end(),
                                              [&](const std::string& h) { return has_suffix(h); });
    case ProviderMatch::Kind::kDomainSuffix:
      return has_suffix(domain);
    case ProviderMatch::Kind::kHostName:
      return std::find(mx_hosts.begin(), mx_hosts.end(), match.value) != mx_hosts.end();
  }
  return false;
}

SharedLimitSpec Connections(std::string name, int limit) {
  SharedLimitSpec spec;
  spec.kind = SharedLimitSpec::Kind::kConnections;
  spec.name = std::move(name);
  spec.connections = limit;
  return spec;
}

SharedLimitSpec RateSpec(SharedLimitSpec::Kind kind, std::string name, const Rate& rate) {
  SharedLimitSpec spec;
  spec.kind = kind;
  spec.name = std::move(name);
  spec.rate = rate;
  return spec;
}

// The provider's own limits, each one budget for every site it takes.
void AddProviderLimits(const ShapingProvider& provider, std::vector<SharedLimitSpec>& shared) {
  ShapingConfig own;
  provider.layer.ApplyTo(own);
  const std::string prefix = absl::StrCat("provider:", provider.name, " ");
  if (provider.layer.Sets("connection_limit")) {
    shared.push_back(Connections(prefix + "connection_limit", own.connection_limit));
  }
  if (provider.layer.Sets("max_message_rate") && own.max_message_rate.has_value()) {
    shared.push_back(RateSpec(SharedLimitSpec::Kind::kMessageRate, prefix + "max_message_rate",
                              *own.max_message_rate));
  }
  if (provider.layer.Sets("max_connection_rate") && own.max_connection_rate.has_value()) {
    shared.push_back(RateSpec(SharedLimitSpec::Kind::kConnectionRate,
                              prefix + "max_connection_rate", *own.max_connection_rate));
  }
}

void AddNamedLimits(const ShapingConfig& config, std::vector<SharedLimitSpec>& shared) {
  for (const auto& [name, limit] : config.additional_connection_limits) {
    shared.push_back(Connections(absl::StrCat("additional:", name, " connections"), limit));
  }
  for (const auto& [name, rate] : config.additional_message_rate_throttles) {
    shared.push_back(RateSpec(SharedLimitSpec::Kind::kMessageRate,
                              absl::StrCat("additional:", name, " messages"), rate));
  }
}

}  // namespace

void ShapingLayer::ApplyTo(ShapingConfig& config) const {
  for (const ShapingSetting& setting : settings) setting.apply(config);
}

bool ShapingLayer::Sets(absl::string_view key) const {
  return std::any_of(settings.begin(), settings.end(),
                     [key](const ShapingSetting& s) { return s.key == key; });
}

bool GlobMatches(absl::string_view glob, absl::string_view name) {
  // Iterative matching with one backtrack point: linear for the one-star patterns people
  // write, and never exponential.
  size_t g = 0, n = 0;
  size_t star = absl::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      resume = n;
    } else if (g < glob.size() && glob[g] == name[n]) {
      ++g;
      ++n;
    } else if (star != absl::string_view::npos) {
      g = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

const ShapingProvider* ShapingRules::ProviderFor(absl::string_view domain,
                                                 const std::vector<std::string>& mx_hosts) const {
  for (const ShapingProvider& provider : providers) {
    for (const ProviderMatch& match : provider.match) {
      if (ProviderMatches(match, domain, mx_hosts)) return &provider;
    }
  }
  return nullptr;
}

ShapingConfig ShapingRules::Resolve(absl::string_view domain,
                                    const std::vector<std::string>& mx_hosts,
                                    absl::string_view source,
                                    std::vector<const ShapingLayer*>* applied) const {
  ShapingConfig config = defaults;
  auto apply = [&](const ShapingLayer& layer) {
    layer.ApplyTo(config);
    if (applied != nullptr) applied->push_back(&layer);
  };
  const ShapingProvider* provider = ProviderFor(domain, mx_hosts);
  if (provider != nullptr) apply(provider->layer);
  for (const ShapingSiteGlob& site : sites) {
    if (std::any_of(mx_hosts.begin(), mx_hosts.end(),
                    [&](const std::string& h) { return GlobMatches(site.pattern, h); })) {
      apply(site.layer);
    }
  }
  const auto own = domains.find(domain);
  if (own != domains.end()) apply(own->second.layer);
  if (!source.empty()) {
    if (auto it = sources.find(source); it != sources.end()) apply(it->second);
    if (own != domains.end()) {
      if (auto it = own->second.sources.find(source); it != own->second.sources.end()) {
        apply(it->second);
      }
    }
  }
  config.provider = provider != nullptr ? provider->name : "";
  config.shared_limits.clear();
  if (provider != nullptr) AddProviderLimits(*provider, config.shared_limits);
  AddNamedLimits(config, config.shared_limits);
  std::sort(config.shared_limits.begin(), config.shared_limits.end(),
            [](const SharedLimitSpec& a, const SharedLimitSpec& b) { return a.name < b.name; });
  return config;
}

}  // namespace volley::config
