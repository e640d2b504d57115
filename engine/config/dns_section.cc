// [dns]; see dns_section.h.
#include "engine/config/dns_section.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

void ParseDnsServers(const toml::node& value, ConfigParser& parser, Config& config) {
  constexpr absl::string_view kWhat = "[dns] servers";
  const toml::array* array = value.as_array();
  if (array == nullptr) {
    parser.AddError(value, absl::StrCat(kWhat, ": expected an array of \"ip:port\" strings, got ",
                                        TypeName(value)));
    return;
  }
  std::vector<HostPort> servers;
  bool ok = true;
  for (const toml::node& element : *array) {
    std::optional<HostPort> server = parser.ReadIpAddress(element, kWhat, 53);
    if (!server.has_value()) {
      ok = false;
      continue;
    }
    servers.push_back(*std::move(server));
  }
  if (ok) config.dns.servers = std::move(servers);
}

void ParseIpLookupStrategy(const toml::node& value, ConfigParser& parser, Config& config) {
  std::optional<std::string> s = parser.ReadString(value, "[dns] ip_lookup_strategy");
  if (!s.has_value()) return;
  static constexpr std::pair<absl::string_view, IpLookupStrategy> kNames[] = {
      {"ipv4_then_ipv6", IpLookupStrategy::kIpv4ThenIpv6},
      {"ipv6_then_ipv4", IpLookupStrategy::kIpv6ThenIpv4},
      {"ipv4_only", IpLookupStrategy::kIpv4Only},
      {"ipv6_only", IpLookupStrategy::kIpv6Only},
  };
  for (const auto& [name, strategy] : kNames) {
    if (*s == name) {
      config.dns.ip_lookup_strategy = strategy;
      return;
    }
  }
  parser.AddError(value, absl::StrCat("[dns] ip_lookup_strategy: \"", *s,
                                      "\" is not one of ipv4_then_ipv6, ipv6_then_ipv4, "
                                      "ipv4_only, ipv6_only"));
}

}  // namespace

void ParseDnsSection(const toml::table& table, ConfigParser& parser, Config& config) {
  DnsConfig& dns = config.dns;
  parser.Walk(table, "dns",
              {
                  {"servers", [&](const toml::node& v) { ParseDnsServers(v, parser, config); }},
                  {"timeout",
                   [&](const toml::node& v) {
                     if (auto d = parser.ReadDuration(v, "[dns] timeout")) dns.timeout = *d;
                   }},
                  {"ip_lookup_strategy",
                   [&](const toml::node& v) { ParseIpLookupStrategy(v, parser, config); }},
                  {"min_ttl",
                   [&](const toml::node& v) {
                     if (auto d = parser.ReadDuration(v, "[dns] min_ttl")) dns.min_ttl = *d;
                   }},
                  {"max_ttl",
                   [&](const toml::node& v) {
                     if (auto d = parser.ReadDuration(v, "[dns] max_ttl")) {
                       dns.max_ttl = *d;
                       parser.cross_section().max_ttl_line = v.source().begin.line;
                     }
                   }},
                  {"serve_stale",
                   [&](const toml::node& v) {
                     if (auto d = parser.ReadDuration(v, "[dns] serve_stale")) dns.serve_stale = *d;
                   }},
                  {"cache_size",
                   [&](const toml::node& v) {
                     if (auto n = parser.ReadInteger(v, "[dns] cache_size", 1, 100000000)) {
                       dns.cache_size = static_cast<int>(*n);
                     }
                   }},
              },
              {});
}

}  // namespace volley::config
