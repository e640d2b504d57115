// The keys of an SMTP listener; see smtp_listener_section.h.
#include "engine/config/smtp_listener_section.h"

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

std::string What(const ListenerDraft& draft, absl::string_view key) {
  return absl::StrCat(draft.what, " ", key);
}

void ParseListen(const toml::node& value, ConfigParser& parser, ListenerDraft& draft) {
  const std::string what = What(draft, "listen");
  std::vector<const toml::node*> elements;
  if (value.is_string()) {
    elements.push_back(&value);
  } else if (const toml::array* array = value.as_array()) {
    for (const toml::node& element : *array) elements.push_back(&element);
  } else {
    parser.AddError(value, absl::StrCat(what,
                                        ": expected a string or an array of strings "
                                        "(\"host:port\"), got ",
                                        TypeName(value)));
    return;
  }
  std::vector<HostPort> listen;
  std::vector<uint32_t> lines;
  bool ok = true;
  for (const toml::node* element : elements) {
    std::optional<HostPort> address =
        parser.ReadIpAddress(*element, what, std::nullopt, /*allow_port_zero=*/true);
    if (!address.has_value()) {
      ok = false;
      continue;
    }
    if (std::find(listen.begin(), listen.end(), *address) != listen.end()) {
      parser.AddError(*element, absl::StrCat(what, ": ", address->ToString(), " is listed twice"));
      ok = false;
      continue;
    }
    listen.push_back(*std::move(address));
    lines.push_back(element->source().begin.line);
  }
  if (!ok) return;
  draft.config.listen = std::move(listen);
  draft.listen_lines = std::move(lines);
  draft.listen_written = true;
}

void ParseRelayNetworks(const toml::node& value, ConfigParser& parser, ListenerDraft& draft) {
  const std::string what = What(draft, "relay_networks");
  const toml::array* array = value.as_array();
  if (array == nullptr) {
    parser.AddError(
        value, absl::StrCat(what, ": expected an array of CIDR strings, got ", TypeName(value)));
    return;
  }
  std::vector<Cidr> networks;
  bool ok = true;
  for (const toml::node& element : *array) {
    std::optional<std::string> s = parser.ReadString(element, what);
    if (!s.has_value()) {
      ok = false;
      continue;
    }
    absl::StatusOr<Cidr> cidr = ParseCidr(*s);
    if (!cidr.ok()) {
      parser.AddError(element, absl::StrCat(what, ": ", cidr.status().message()));
      ok = false;
      continue;
    }
    networks.push_back(*cidr);
  }
  if (ok) draft.config.relay_networks = std::move(networks);
}

void ParseHeaderName(const toml::node& value, absl::string_view key, ConfigParser& parser,
                     const ListenerDraft& draft, std::string* name, uint32_t* line) {
  const std::string what = What(draft, key);
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
                     const ListenerDraft& draft, std::string* out) {
  const std::string what = What(draft, key);
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
void ParseDefaultPriority(const toml::node& value, ConfigParser& parser, const ListenerDraft& draft,
                          uint8_t* out) {
  const std::string what = What(draft, "default_priority");
  if (value.is_integer()) {
    if (auto n = parser.ReadInteger(value, what, 0, message::kMaxPriority)) {
      *out = static_cast<uint8_t>(*n);
    }
    return;
  }
  const auto* s = value.as_string();
  if (s == nullptr) {
    parser.AddError(value, absl::StrCat(what,
                                        ": expected a priority (\"high\", \"normal\", \"bulk\" "
                                        "or 0 to 9), got ",
                                        TypeName(value)));
    return;
  }
  absl::StatusOr<uint8_t> priority = message::ParsePriority(s->get());
  if (!priority.ok()) {
    parser.AddError(value, absl::StrCat(what, ": ", priority.status().message()));
    return;
  }
  *out = *priority;
}

// One of `names` (an enum's values in order); reports the others as the choice.
template <typename Enum, size_t N>
void ParseChoice(const toml::node& value, const std::string& what,
                 const absl::string_view (&names)[N], ConfigParser& parser, Enum* out,
                 bool* written) {
  std::optional<std::string> s = parser.ReadString(value, what);
  if (!s.has_value()) return;
  for (size_t i = 0; i < N; ++i) {
    if (*s == names[i]) {
      *out = static_cast<Enum>(i);
      if (written != nullptr) *written = true;
      return;
    }
  }
  std::string choices;
  for (size_t i = 0; i < N; ++i) {
    absl::StrAppend(&choices, i == 0 ? "" : (i + 1 == N ? " or " : ", "), "\"", names[i], "\"");
  }
  parser.AddError(value,
                  absl::StrCat(what, ": ", message::QuoteForMessage(*s), " is not ", choices));
}

constexpr absl::string_view kRoleNames[] = {"inject", "bounce"};
constexpr absl::string_view kTlsNames[] = {"none", "starttls", "implicit"};
constexpr absl::string_view kAuthNames[] = {"none", "optional", "required"};

void ParseInt(const toml::node& value, const std::string& what, int64_t min, ConfigParser& parser,
              int* out) {
  if (auto n = parser.ReadInteger(value, what, min, std::numeric_limits<int>::max())) {
    *out = static_cast<int>(*n);
  }
}

// The three header names must differ, or one header would set two things. The later of two
// equal names written is blamed.
void CheckHeaderNamesDiffer(ConfigParser& parser, const ListenerDraft& draft) {
  struct Named {
    absl::string_view key;
    const std::string* name;
    uint32_t line;
  };
  const SmtpListenerConfig& c = draft.config;
  const Named names[] = {{"tenant_header", &c.tenant_header, draft.tenant_header_line},
                         {"campaign_header", &c.campaign_header, draft.campaign_header_line},
                         {"priority_header", &c.priority_header, draft.priority_header_line}};
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) {
      if (!absl::EqualsIgnoreCase(*names[i].name, *names[j].name)) continue;
      const bool j_later = names[j].line >= names[i].line;
      const Named& blamed = j_later ? names[j] : names[i];
      const Named& other = j_later ? names[i] : names[j];
      parser.AddError(blamed.line,
                      absl::StrCat(What(draft, blamed.key), ": \"", *blamed.name, "\" is also the ",
                                   other.key, " (header names are compared case-insensitively)"));
    }
  }
}

}  // namespace

absl::string_view SmtpListenerRoleName(SmtpListenerRole role) {
  return kRoleNames[static_cast<size_t>(role)];
}
absl::string_view SmtpListenerTlsName(SmtpListenerTls tls) {
  return kTlsNames[static_cast<size_t>(tls)];
}
absl::string_view SmtpListenerAuthName(SmtpListenerAuth auth) {
  return kAuthNames[static_cast<size_t>(auth)];
}

void ParseListenerKeys(const toml::table& table, bool listener_table, ConfigParser& parser,
                       ListenerDraft& draft) {
  SmtpListenerConfig& c = draft.config;
  std::vector<ConfigParser::Field> fields = {
      {"listen", [&](const toml::node& v) { ParseListen(v, parser, draft); }},
      {"role",
       [&](const toml::node& v) {
         ParseChoice(v, What(draft, "role"), kRoleNames, parser, &c.role, nullptr);
       }},
      {"tls",
       [&](const toml::node& v) {
         ParseChoice(v, What(draft, "tls"), kTlsNames, parser, &c.tls, &draft.tls_written);
       }},
      {"require_tls",
       [&](const toml::node& v) {
         if (auto b = parser.ReadBool(v, What(draft, "require_tls"))) c.require_tls = *b;
       }},
      {"auth",
       [&](const toml::node& v) {
         ParseChoice(v, What(draft, "auth"), kAuthNames, parser, &c.auth, &draft.auth_written);
       }},
      {"allow_auth_without_tls",
       [&](const toml::node& v) {
         if (auto b = parser.ReadBool(v, What(draft, "allow_auth_without_tls"))) {
           c.allow_auth_without_tls = *b;
         }
       }},
      {"auth_file",
       [&](const toml::node& v) {
         if (auto s = parser.ReadString(v, What(draft, "auth_file"))) c.auth_file = *s;
       }},
      {"tls_cert",
       [&](const toml::node& v) {
         if (auto s = parser.ReadString(v, What(draft, "tls_cert"))) c.tls_cert = *s;
       }},
      {"tls_key",
       [&](const toml::node& v) {
         if (auto s = parser.ReadString(v, What(draft, "tls_key"))) c.tls_key = *s;
       }},
      {"relay_networks", [&](const toml::node& v) { ParseRelayNetworks(v, parser, draft); }},
      {"max_message_size",
       [&](const toml::node& v) {
         if (auto size = parser.ReadSize(v, What(draft, "max_message_size"), false)) {
           c.max_message_size = *size;
         }
       }},
      {"max_recipients",
       [&](const toml::node& v) {
         ParseInt(v, What(draft, "max_recipients"), 1, parser, &c.max_recipients);
       }},
      {"max_connections",
       [&](const toml::node& v) {
         ParseInt(v, What(draft, "max_connections"), 1, parser, &c.max_connections);
       }},
      {"max_connections_per_ip",
       [&](const toml::node& v) {
         ParseInt(v, What(draft, "max_connections_per_ip"), 0, parser, &c.max_connections_per_ip);
       }},
      {"max_connection_rate_per_ip",
       [&](const toml::node& v) {
         parser.ReadRate(v, What(draft, "max_connection_rate_per_ip"),
                         &c.max_connection_rate_per_ip);
       }},
      {"max_message_rate_per_user",
       [&](const toml::node& v) {
         parser.ReadRate(v, What(draft, "max_message_rate_per_user"), &c.max_message_rate_per_user);
       }},
      {"command_timeout",
       [&](const toml::node& v) {
         if (auto d = parser.ReadDuration(v, What(draft, "command_timeout"))) {
           c.command_timeout = *d;
         }
       }},
      {"min_data_rate",
       [&](const toml::node& v) {
         if (auto size = parser.ReadSize(v, What(draft, "min_data_rate"), false)) {
           c.min_data_rate = *size;
         }
       }},
      {"session_timeout",
       [&](const toml::node& v) {
         if (auto d = parser.ReadDuration(v, What(draft, "session_timeout"))) {
           c.session_timeout = *d;
         }
       }},
      {"tenant_header",
       [&](const toml::node& v) {
         ParseHeaderName(v, "tenant_header", parser, draft, &c.tenant_header,
                         &draft.tenant_header_line);
       }},
      {"campaign_header",
       [&](const toml::node& v) {
         ParseHeaderName(v, "campaign_header", parser, draft, &c.campaign_header,
                         &draft.campaign_header_line);
       }},
      {"priority_header",
       [&](const toml::node& v) {
         ParseHeaderName(v, "priority_header", parser, draft, &c.priority_header,
                         &draft.priority_header_line);
       }},
      {"default_tenant",
       [&](const toml::node& v) {
         ParseDefaultTag(v, "default_tenant", parser, draft, &c.default_tenant);
       }},
      {"default_campaign",
       [&](const toml::node& v) {
         ParseDefaultTag(v, "default_campaign", parser, draft, &c.default_campaign);
       }},
      {"default_priority",
       [&](const toml::node& v) { ParseDefaultPriority(v, parser, draft, &c.default_priority); }},
  };
  if (listener_table) {
    fields.push_back({"name", [&](const toml::node& v) {
                        if (auto s = parser.ReadString(v, What(draft, "name"))) {
                          if (s->empty()) {
                            parser.AddError(v, What(draft, "name: must not be empty"));
                          } else {
                            c.name = *s;
                          }
                        }
                      }});
  } else {
    fields.push_back({"listener", [](const toml::node&) {}});  // the caller's
  }
  parser.Walk(table, listener_table ? "inject.smtp.listener" : "inject.smtp", fields, {});
}

void ResolveListener(ConfigParser& parser, ListenerDraft& draft) {
  SmtpListenerConfig& c = draft.config;
  if (!draft.tls_written) {
    c.tls = c.tls_cert.empty() ? SmtpListenerTls::kNone : SmtpListenerTls::kStartTls;
  }
  if (!draft.auth_written) {
    c.auth = c.auth_file.empty() ? SmtpListenerAuth::kNone : SmtpListenerAuth::kOptional;
  }
  auto blame = [&](absl::string_view message) {
    parser.AddError(draft.line, absl::StrCat(draft.what, ": ", message));
  };
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    blame("tls_cert and tls_key go together: set both or neither");
  } else if (c.tls != SmtpListenerTls::kNone && c.tls_cert.empty()) {
    blame(absl::StrCat("tls = \"", SmtpListenerTlsName(c.tls), "\" needs tls_cert and tls_key"));
  }
  if (c.require_tls && c.tls == SmtpListenerTls::kNone) {
    blame("require_tls needs tls = \"starttls\" (or \"implicit\")");
  }
  if (c.auth != SmtpListenerAuth::kNone && c.auth_file.empty()) {
    blame(absl::StrCat("auth = \"", SmtpListenerAuthName(c.auth), "\" needs an auth_file"));
  } else if (c.auth != SmtpListenerAuth::kNone && c.tls == SmtpListenerTls::kNone &&
             !c.allow_auth_without_tls) {
    blame(
        "AUTH is offered only under TLS, and this listener has none: set tls_cert and tls_key "
        "(or tls), or allow_auth_without_tls = true");
  }
  if (c.role == SmtpListenerRole::kBounce && c.auth == SmtpListenerAuth::kRequired) {
    blame(
        "role = \"bounce\" takes reports from any mail server, which cannot authenticate: "
        "auth = \"required\" would refuse them all");
  }
  CheckHeaderNamesDiffer(parser, draft);
}

}  // namespace volley::config
