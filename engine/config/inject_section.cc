// [inject.smtp]; see inject_section.h.
#include "engine/config/inject_section.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config/values.h"
#include "engine/message/message_tags.h"

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

// Where each of the three header names was written; 0 where the default was kept.
struct HeaderNameLines {
  uint32_t tenant = 0;
  uint32_t campaign = 0;
  uint32_t priority = 0;
};

void ParseHeaderName(const toml::node& value, absl::string_view key, ConfigParser& parser,
                     std::string* name, uint32_t* line) {
  const std::string what = absl::StrCat("[inject.smtp] ", key);
  std::optional<std::string> s = parser.ReadString(value, what);
  if (!s.has_value()) return;
  if (!message::IsFieldName(*s)) {
    parser.AddError(value, absl::StrCat(what, ": ", message::QuoteForMessage(*s),
                                        " is not a header field name (printable ASCII "
                                        "characters other than ':', without spaces)"));
    return;
  }
  *name = *std::move(s);
  *line = value.source().begin.line;
}

// default_tenant, default_campaign: "" (none) or a valid tenant or campaign.
void ParseDefaultTag(const toml::node& value, absl::string_view key, ConfigParser& parser,
                     std::string* out) {
  const std::string what = absl::StrCat("[inject.smtp] ", key);
  std::optional<std::string> s = parser.ReadString(value, what);
  if (!s.has_value()) return;
  if (!s->empty()) {
    if (absl::Status ok = message::CheckTag(*s); !ok.ok()) {
      parser.AddError(value, absl::StrCat(what, ": ", ok.message(), " (or \"\" for none)"));
      return;
    }
  }
  *out = *std::move(s);
}

// A priority as in the header ("high", "normal", "bulk", "0" to "9"), or an integer 0 to 9.
void ParseDefaultPriority(const toml::node& value, ConfigParser& parser, uint8_t* out) {
  constexpr absl::string_view kWhat = "[inject.smtp] default_priority";
  if (value.is_integer()) {
    if (auto n = parser.ReadInteger(value, kWhat, 0, message::kMaxPriority)) {
      *out = static_cast<uint8_t>(*n);
    }
    return;
  }
  const auto* s = value.as_string();
  if (s == nullptr) {
    parser.AddError(value, absl::StrCat(kWhat,
                                        ": expected a priority (\"high\", \"normal\", \"bulk\" "
                                        "or 0 to 9), got ",
                                        TypeName(value)));
    return;
  }
  absl::StatusOr<uint8_t> priority = message::ParsePriority(s->get());
  if (!priority.ok()) {
    parser.AddError(value, absl::StrCat(kWhat, ": ", priority.status().message()));
    return;
  }
  *out = *priority;
}

// The three names must differ, or one header would set two things. The later of two equal
// names written is blamed.
void CheckHeaderNamesDiffer(const SmtpInjectConfig& smtp, const HeaderNameLines& lines,
                            ConfigParser& parser) {
  struct Named {
    absl::string_view key;
    const std::string* name;
    uint32_t line;
  };
  const Named names[] = {{"tenant_header", &smtp.tenant_header, lines.tenant},
                         {"campaign_header", &smtp.campaign_header, lines.campaign},
                         {"priority_header", &smtp.priority_header, lines.priority}};
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) {
      if (!absl::EqualsIgnoreCase(*names[i].name, *names[j].name)) continue;
      const bool j_later = names[j].line >= names[i].line;
      const Named& blamed = j_later ? names[j] : names[i];
      const Named& other = j_later ? names[i] : names[j];
      parser.AddError(blamed.line, absl::StrCat("[inject.smtp] ", blamed.key, ": \"", *blamed.name,
                                                "\" is also the ", other.key,
                                                " (header names are compared case-insensitively)"));
    }
  }
}

void ParseInjectSmtp(const toml::table& table, ConfigParser& parser, Config& config) {
  SmtpInjectConfig& smtp = config.inject_smtp;
  HeaderNameLines lines;
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
          {"tenant_header",
           [&](const toml::node& v) {
             ParseHeaderName(v, "tenant_header", parser, &smtp.tenant_header, &lines.tenant);
           }},
          {"campaign_header",
           [&](const toml::node& v) {
             ParseHeaderName(v, "campaign_header", parser, &smtp.campaign_header, &lines.campaign);
           }},
          {"priority_header",
           [&](const toml::node& v) {
             ParseHeaderName(v, "priority_header", parser, &smtp.priority_header, &lines.priority);
           }},
          {"default_tenant",
           [&](const toml::node& v) {
             ParseDefaultTag(v, "default_tenant", parser, &smtp.default_tenant);
           }},
          {"default_campaign",
           [&](const toml::node& v) {
             ParseDefaultTag(v, "default_campaign", parser, &smtp.default_campaign);
           }},
          {"default_priority",
           [&](const toml::node& v) { ParseDefaultPriority(v, parser, &smtp.default_priority); }},
      },
      {"auth_file", "tls_cert", "tls_key"});
  CheckHeaderNamesDiffer(smtp, lines, parser);
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
