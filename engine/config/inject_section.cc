// [inject.smtp]; see inject_section.h.
#include "engine/config/inject_section.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

void ParseSmtpListen(const toml::node& value, ConfigParser& parser, Config& config) {
  constexpr absl::string_view kWhat = "[inject.smtp] listen";
  std::vector<const toml::node*> elements;
  if (value.is_string()) {
    elements.push_back(&value);
  } else if (const toml::array* array = value.as_array()) {
    for (const toml::node& element : *array) elements.push_back(&element);
  } else {
    parser.AddError(value, absl::StrCat(kWhat,
                                        ": expected a string or an array of strings "
                                        "(\"host:port\"), got ",
                                        TypeName(value)));
    return;
  }
  std::vector<HostPort> listen;
  std::vector<uint32_t>& lines = parser.cross_section().smtp_listen_lines;
  lines.clear();
  bool ok = true;
  for (const toml::node* element : elements) {
    std::optional<HostPort> address =
        parser.ReadIpAddress(*element, kWhat, std::nullopt, /*allow_port_zero=*/true);
    if (!address.has_value()) {
      ok = false;
      continue;
    }
    if (std::find(listen.begin(), listen.end(), *address) != listen.end()) {
      parser.AddError(*element, absl::StrCat(kWhat, ": ", address->ToString(), " is listed twice"));
      ok = false;
      continue;
    }
    listen.push_back(*std::move(address));
    lines.push_back(element->source().begin.line);
  }
  if (ok) config.inject_smtp.listen = std::move(listen);
}

void ParseRelayNetworks(const toml::node& value, ConfigParser& parser, Config& config) {
  const toml::array* array = value.as_array();
  if (array == nullptr) {
    parser.AddError(value, absl::StrCat("[inject.smtp] relay_networks: expected an array of "
                                        "CIDR strings, got ",
                                        TypeName(value)));
    return;
  }
  std::vector<Cidr> networks;
  bool ok = true;
  for (const toml::node& element : *array) {
    std::optional<std::string> s = parser.ReadString(element, "[inject.smtp] relay_networks");
    if (!s.has_value()) {
      ok = false;
      continue;
    }
    absl::StatusOr<Cidr> cidr = ParseCidr(*s);
    if (!cidr.ok()) {
      parser.AddError(element,
                      absl::StrCat("[inject.smtp] relay_networks: ", cidr.status().message()));
      ok = false;
      continue;
    }
    networks.push_back(*cidr);
  }
  if (ok) config.inject_smtp.relay_networks = std::move(networks);
}

void ParseInjectSmtp(const toml::table& table, ConfigParser& parser, Config& config) {
  SmtpInjectConfig& smtp = config.inject_smtp;
  parser.Walk(
      table, "inject.smtp",
      {
          {"listen", [&](const toml::node& v) { ParseSmtpListen(v, parser, config); }},
          {"relay_networks", [&](const toml::node& v) { ParseRelayNetworks(v, parser, config); }},
          {"max_message_size",
           [&](const toml::node& v) {
             if (auto size = parser.ReadSize(v, "[inject.smtp] max_message_size",
                                             /*allow_zero=*/false)) {
               smtp.max_message_size = *size;
             }
           }},
          {"max_recipients",
           [&](const toml::node& v) {
             if (auto n = parser.ReadInteger(v, "[inject.smtp] max_recipients", 1,
                                             std::numeric_limits<int>::max())) {
               smtp.max_recipients = static_cast<int>(*n);
             }
           }},
          {"max_connections",
           [&](const toml::node& v) {
             if (auto n = parser.ReadInteger(v, "[inject.smtp] max_connections", 1,
                                             std::numeric_limits<int>::max())) {
               smtp.max_connections = static_cast<int>(*n);
             }
           }},
      },
      {"auth_file", "tls_cert", "tls_key"});
}

}  // namespace

void ParseInjectSection(const toml::table& table, ConfigParser& parser, Config& config) {
  for (auto&& [key, value] : table) {
    const std::string what = absl::StrCat("[inject.", QuoteKey(key.str()), "]");
    if (key.str() == "smtp") {
      if (const toml::table* smtp = parser.ExpectTable(value, what)) {
        ParseInjectSmtp(*smtp, parser, config);
      }
    } else if (value.is_table()) {
      parser.AddError(key, absl::StrCat("unknown table ", what));
    } else {
      parser.AddError(key, absl::StrCat("unknown key '", AsAbsl(key.str()), "' in [inject]"));
    }
  }
}

}  // namespace volley::config
